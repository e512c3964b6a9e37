// Live updates: an authenticated POST gets a single-use ticket; GET /api/live with it becomes a
// WebSocket that the tenant's ledger accepts (hibernating) and pushes changes to.

import { z } from "zod";
import { TICKET_PATTERN } from "../../ledger/live/tickets";
import type { Auth } from "../auth";
import { originMayConnect } from "../cors";
import { ApiError } from "../errors";
import { defineRoute, reply } from "../route";
import { LiveClientMessage, LiveServerMessage, LiveTicket, type LiveScope } from "../../contract/schemas";
import { TenantParam, ledgerFor } from "../tenant";

/** The scope a ticket carries: the one place that maps a token to it. */
export function liveScope(auth: Auth): LiveScope {
  return auth.scope;
}

export const TicketQuery = z.object({ tenant: TenantParam.optional() }).strict();

export const LiveQuery = z
  .object({
    tenant: TenantParam.meta({ description: "The tenant whose ledger to watch (the one the ticket was issued for)" }),
    ticket: z.string().regex(TICKET_PATTERN, "not a live ticket").meta({ description: "From POST /api/live/ticket; single use, about a minute" }),
    since: z.coerce
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: "Reconnecting: the last seq seen. Answered with resumed when nothing was missed, else a snapshot" }),
  })
  .strict();

export const createLiveTicket = defineRoute({
  method: "POST",
  path: "/api/live/ticket",
  tag: "live",
  summary: "A single-use ticket (about a minute) to open the tenant's live WebSocket",
  description:
    "A browser cannot send Authorization on a WebSocket, and a token must not go in a URL: this ticket goes in GET /api/live's query instead. It is bound to the tenant, the token and its scope; revoking the token closes the sockets it opened.",
  access: "tenant:read",
  query: TicketQuery,
  responses: { 201: { description: "The ticket", schema: LiveTicket } },
  async handler({ request, tenant }) {
    const { id, ledger } = tenant();
    const auth = request.auth!;
    const scope = liveScope(auth);
    const { ticket, expiresAt } = await ledger.issueLiveTicket({
      tokenId: auth.kind === "admin" ? "admin" : auth.tokenId,
      scope,
      actor: auth.label,
    });
    const url = `/api/live?${new URLSearchParams({ tenant: id, ticket })}`;
    return reply(201, { ticket, tenant: id, scope, expiresAt: new Date(expiresAt).toISOString(), url });
  },
});

export const openLive = defineRoute({
  method: "GET",
  path: "/api/live",
  tag: "live",
  summary: "The tenant's live updates, as a WebSocket",
  description:
    "Send 'Upgrade: websocket'. A browser page must be on an origin of CORS_ORIGINS or on this worker's own. The first message is a snapshot (or resumed, for ?since= with nothing missed); then an update at most every 250 ms while the ledger changes. Every refusal comes before the upgrade, in the one error shape.",
  access: "ticket",
  query: LiveQuery,
  errors: [403, 426],
  responses: {
    101: {
      description: "Switching protocols: the WebSocket (messages in x-websocket-messages)",
      webSocket: { server: LiveServerMessage, client: LiveClientMessage },
    },
  },
  async handler({ request, env, query }) {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError(426, "upgrade_required", "GET /api/live is a WebSocket: send 'Upgrade: websocket'", undefined, { upgrade: "websocket" });
    }
    // Browsers always send Origin on a WebSocket; a client without one is not a browser page,
    // and the ticket alone decides.
    const origin = request.headers.get("origin");
    if (origin !== null && !originMayConnect(env, origin, new URL(request.url).origin)) {
      throw new ApiError(403, "forbidden", `a page on ${origin} may not open live updates: add it to CORS_ORIGINS`);
    }
    const forward = new URL("https://ledger/live");
    forward.searchParams.set("ticket", query.ticket);
    if (query.since !== undefined) forward.searchParams.set("since", String(query.since));
    return ledgerFor(env, query.tenant).fetch(forward, { headers: { upgrade: "websocket" } });
  },
});

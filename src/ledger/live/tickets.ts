// Tickets that open a live WebSocket. A browser cannot put Authorization on a WebSocket, so an
// authenticated POST gets a ticket instead: random, single use, valid for about a minute, and
// kept here only as its SHA-256. It lives in the tenant's own ledger, so it opens nothing else.

import type { LiveScope } from "../../contract/schemas";
import { run, sql } from "../../sql";

export const TICKET_TTL_MS = 60_000;
const PREFIX = "lt_";
export const TICKET_PATTERN = /^lt_[A-Za-z0-9_-]{43}$/;

/** Who opened the socket: the token's id ("admin" for the admin token), its scope, its label. */
export interface LiveGrant {
  tokenId: string;
  scope: LiveScope;
  actor: string;
}

async function digest(ticket: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(ticket)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function issueTicket(storage: SqlStorage, grant: LiveGrant, now: number): Promise<{ ticket: string; expiresAt: number }> {
  const random = crypto.getRandomValues(new Uint8Array(32));
  const ticket = PREFIX + btoa(String.fromCharCode(...random)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  const hash = await digest(ticket);
  const expiresAt = now + TICKET_TTL_MS;
  // Tickets nobody used go with the next one issued: no due work, no alarm.
  run(storage, sql`DELETE FROM live_tickets WHERE expires_at <= ${now}`);
  run(
    storage,
    sql`INSERT INTO live_tickets (hash, token_id, scope, actor, expires_at)
      VALUES (${hash}, ${grant.tokenId}, ${grant.scope}, ${grant.actor}, ${expiresAt})`,
  );
  return { ticket, expiresAt };
}

/** The grant of a valid ticket, used up by this call; null for a wrong, expired or used one. */
export async function consumeTicket(storage: SqlStorage, ticket: string, now: number): Promise<LiveGrant | null> {
  if (!TICKET_PATTERN.test(ticket)) return null;
  const hash = await digest(ticket);
  const row = run<{ token_id: string; scope: LiveScope; actor: string; expires_at: number }>(
    storage,
    sql`DELETE FROM live_tickets WHERE hash = ${hash} RETURNING token_id, scope, actor, expires_at`,
  ).toArray()[0];
  if (!row || row.expires_at <= now) return null;
  // A ticket issued by a request that authenticated just before the revoke landed.
  if (run(storage, sql`SELECT 1 FROM live_revoked WHERE token_id = ${row.token_id}`).toArray().length > 0) return null;
  return { tokenId: row.token_id, scope: row.scope, actor: row.actor };
}

/** A revoked token's tickets, issued or still to be issued, open nothing any more. */
export function revokeTickets(storage: SqlStorage, tokenId: string): void {
  run(storage, sql`DELETE FROM live_tickets WHERE token_id = ${tokenId}`);
  run(storage, sql`INSERT INTO live_revoked (token_id) VALUES (${tokenId}) ON CONFLICT DO NOTHING`);
}

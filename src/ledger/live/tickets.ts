// Tickets that open a live WebSocket. A browser cannot put Authorization on a WebSocket, so an
// authenticated POST gets a ticket instead: random, single use, valid for about a minute, and
// kept here only as its SHA-256. It lives in the tenant's own ledger, so it opens nothing else.

import type { LiveScope } from "../../contract/schemas";
import { run, sql as q } from "../../sql";

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

export async function issueTicket(sql: SqlStorage, grant: LiveGrant, now: number): Promise<{ ticket: string; expiresAt: number }> {
  const random = crypto.getRandomValues(new Uint8Array(32));
  const ticket = PREFIX + btoa(String.fromCharCode(...random)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  const hash = await digest(ticket);
  const expiresAt = now + TICKET_TTL_MS;
  // Tickets nobody used go with the next one issued: no due work, no alarm.
  sql.exec(`DELETE FROM live_tickets WHERE expires_at <= ?`, now);
  run(
    sql,
    q`INSERT INTO live_tickets (hash, token_id, scope, actor, expires_at)
      VALUES (${hash}, ${grant.tokenId}, ${grant.scope}, ${grant.actor}, ${expiresAt})`,
  );
  return { ticket, expiresAt };
}

/** The grant of a valid ticket, used up by this call; null for a wrong, expired or used one. */
export async function consumeTicket(sql: SqlStorage, ticket: string, now: number): Promise<LiveGrant | null> {
  if (!TICKET_PATTERN.test(ticket)) return null;
  const hash = await digest(ticket);
  const row = sql
    .exec<{ token_id: string; scope: LiveScope; actor: string; expires_at: number }>(
      `DELETE FROM live_tickets WHERE hash = ? RETURNING token_id, scope, actor, expires_at`,
      hash,
    )
    .toArray()[0];
  if (!row || row.expires_at <= now) return null;
  // A ticket issued by a request that authenticated just before the revoke landed.
  if (sql.exec(`SELECT 1 FROM live_revoked WHERE token_id = ?`, row.token_id).toArray().length > 0) return null;
  return { tokenId: row.token_id, scope: row.scope, actor: row.actor };
}

/** A revoked token's tickets, issued or still to be issued, open nothing any more. */
export function revokeTickets(sql: SqlStorage, tokenId: string): void {
  sql.exec(`DELETE FROM live_tickets WHERE token_id = ?`, tokenId);
  sql.exec(`INSERT INTO live_revoked (token_id) VALUES (?) ON CONFLICT DO NOTHING`, tokenId);
}

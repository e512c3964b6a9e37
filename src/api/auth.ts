// Bearer tokens. The admin token is the ADMIN_TOKEN secret (unset: nobody is admin). Tenant
// tokens are random, shown once, and stored only as their SHA-256 in D1 (api_tokens).

import { ApiError } from "./errors";
import { prepare, sql } from "../sql";

/** What a tenant token may do: read (view only), or operate (also change failures). */
export type Scope = "read" | "operate";
export const SCOPES: readonly Scope[] = ["read", "operate"];

/** The admin token holds scope "admin", above read and operate; a tenant token holds its own. */
export type Auth =
  | { kind: "admin"; label: "admin"; scope: "admin"; rateKey: string }
  | { kind: "tenant"; tenant: string; label: string; scope: Scope; tokenId: string; rateKey: string };

/** RFC 6750 b64token. */
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/;
const TOKEN_PREFIX = "dlq_";

const challenge = { "www-authenticate": 'Bearer realm="dlq-ledger"' };

function unauthorized(message: string): ApiError {
  return new ApiError(401, "unauthorized", message, undefined, challenge);
}

const encoder = new TextEncoder();

export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

export const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** Equal-length digests compared in constant time: how long it takes says nothing about either. */
function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && crypto.subtle.timingSafeEqual(a, b);
}

/** A new tenant token: 256 random bits, recognisable by its prefix (secret scanners, logs). */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return TOKEN_PREFIX + btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

type TokenRow = { id: string; tenant_id: string; label: string; scope: Scope; token_hash: string; revoked_at: number | null };

/**
 * Who sent this request. Every failure is a 401 with the same message for a wrong, revoked or
 * unknown token, so an answer never says which tokens exist.
 */
export async function authenticate(request: Request, env: Env): Promise<Auth> {
  const header = request.headers.get("authorization");
  if (header === null) throw unauthorized("send your token as 'Authorization: Bearer <token>'");
  const match = BEARER.exec(header.trim());
  if (!match) throw unauthorized("the Authorization header must be 'Bearer <token>'");
  const presented = await sha256(match[1]!);

  if (env.ADMIN_TOKEN && sameDigest(presented, await sha256(env.ADMIN_TOKEN))) {
    // Keyed by the token's digest: a rotated admin token starts a fresh window.
    return { kind: "admin", label: "admin", scope: "admin", rateKey: `admin:${toHex(presented).slice(0, 16)}` };
  }
  if (match[1]!.startsWith(TOKEN_PREFIX)) {
    // Looked up by its hash: the index lookup's timing depends on the digest, which reveals
    // nothing about a token; the digests are then compared in constant time anyway.
    const hash = toHex(presented);
    const row = await prepare(env.DB, sql`SELECT id, tenant_id, label, scope, token_hash, revoked_at FROM api_tokens WHERE token_hash = ${hash}`).first<TokenRow>();
    if (row && row.revoked_at === null && sameDigest(encoder.encode(row.token_hash), encoder.encode(hash))) {
      return { kind: "tenant", tenant: row.tenant_id, label: row.label, scope: row.scope, tokenId: row.id, rateKey: row.id };
    }
  }
  throw unauthorized("the token is not valid: it may be mistyped or revoked; ask an admin for a new one");
}

/**
 * Fixed-window rate limit per token, through the Workers rate limiting bindings: the admin token
 * has its own, higher limit (ADMIN_RATE_LIMIT), so that one operator watching many tenants is not
 * refused by the budget meant for one tenant's client.
 */
export async function enforceRateLimit(env: Env, auth: Auth, now = Date.now()): Promise<void> {
  const limiter = auth.kind === "admin" ? env.ADMIN_RATE_LIMIT : env.API_RATE_LIMIT;
  const { success } = await limiter.limit({ key: auth.rateKey });
  if (success) return;
  // The binding does not say when its window ends; windows are aligned to the period, so the
  // rest of the current minute is the honest estimate (a client that retries early is refused again).
  const retryAfter = Math.max(1, RATE_PERIOD_SECONDS - (Math.floor(now / 1000) % RATE_PERIOD_SECONDS));
  throw new ApiError(429, "rate_limited", `too many requests for this token; retry in ${retryAfter} s`, undefined, {
    "retry-after": String(retryAfter),
  });
}

/** Must equal `simple.period` of API_RATE_LIMIT and ADMIN_RATE_LIMIT in wrangler.toml. */
export const RATE_PERIOD_SECONDS = 60;

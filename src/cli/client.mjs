// The HTTP client of the `dlq` CLI: the API's one error shape turned into messages that say
// what to do, and 429s waited out (as Retry-After asks) a few times before giving up.

import { CliError } from "./errors.mjs";

/**
 * @typedef {{ error: { code: string, message: string, details?: unknown } }} ErrorBody
 * @typedef {(ms: number) => Promise<void>} Sleep
 * @typedef {{ url: string, token: string, fetch?: typeof globalThis.fetch, sleep?: Sleep, timeoutMs?: number, onWait?: (seconds: number) => void }} ClientOptions
 */

const MAX_RATE_LIMIT_WAITS = 3;
/** Longer waits than this are not worth sitting through: the user is told instead. */
const MAX_WAIT_SECONDS = 60;

/** @type {Sleep} */
const realSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @param {unknown} value @returns {value is ErrorBody} */
function isErrorBody(value) {
  if (typeof value !== "object" || value === null || !("error" in value)) return false;
  const error = /** @type {{ error: unknown }} */ (value).error;
  return typeof error === "object" && error !== null && "code" in error && "message" in error;
}

/** What to do about an error the API answered with. @param {number} status @param {string} code @param {string} message */
function hintFor(status, code, message) {
  if (status === 401) return "check the token (DLQ_TOKEN or --token); an admin can create one with `dlq tokens create --tenant <tenant> --label <name>`";
  if (status === 403) return /scope operate/.test(message) ? "this token may only read: use a token created with --scope operate" : "this needs the admin token";
  if (status === 400 && /tenant/.test(message) && /admin/.test(message)) return "pass --tenant <tenant>";
  if (status === 429) return "wait a minute and run it again";
  if (status >= 500) return "the server logged the details: `npx wrangler tail` for a deployed worker, or the terminal running `npm start` locally";
  if (code === "conflict") return "see the failure with `dlq show <jobId>`";
  if (status === 404 && message === "not found") return "a tenant token sees only its own tenant: leave out --tenant, or check it";
  return undefined;
}

export class Client {
  /** @param {ClientOptions} options */
  constructor(options) {
    this.base = options.url.replace(/\/+$/, "");
    this.token = options.token;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.sleep = options.sleep ?? realSleep;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.onWait = options.onWait ?? (() => {});
  }

  /**
   * The answer's type is the caller's to name: the route's response type from src/contract/schemas.ts
   * (derived from its zod schema), given as the JSDoc type of the variable the answer goes to.
   * @template [T=unknown]
   * @param {string} method
   * @param {string} path
   * @param {{ query?: Record<string, string | number | boolean | undefined>, body?: unknown }} [options]
   * @returns {Promise<T>}
   */
  async request(method, path, options = {}) {
    const url = new URL(this.base + path);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    for (let waits = 0; ; waits++) {
      /** @type {Response} */
      let res;
      try {
        res = await this.fetch(url, {
          method,
          headers: { authorization: `Bearer ${this.token}`, ...(options.body === undefined ? {} : { "content-type": "application/json" }) },
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        throw networkError(this.base, error, this.timeoutMs);
      }
      const text = await res.text();
      /** @type {unknown} */
      let body;
      try {
        body = text === "" ? null : JSON.parse(text);
      } catch {
        throw new CliError(`unexpected answer from ${url.origin}: ${res.status} ${res.headers.get("content-type") ?? "no content type"}, not JSON`, {
          status: res.status,
          hint: "is DLQ_URL (or --url) the address of the dlq-ledger worker?",
        });
      }
      if (res.ok) return /** @type {T} */ (body);
      if (res.status === 429 && waits < MAX_RATE_LIMIT_WAITS) {
        const seconds = Number(res.headers.get("retry-after") ?? "1");
        if (Number.isFinite(seconds) && seconds >= 0 && seconds <= MAX_WAIT_SECONDS) {
          this.onWait(seconds);
          await this.sleep(Math.max(seconds, 1) * 1000);
          continue;
        }
      }
      if (!isErrorBody(body)) {
        throw new CliError(`${method} ${url.pathname} failed: ${res.status} ${res.statusText}`, {
          status: res.status,
          hint: "is DLQ_URL (or --url) the address of the dlq-ledger worker?",
        });
      }
      const { code, message } = body.error;
      // A server's invalid_request means the command asked for something invalid: a usage error.
      throw new CliError(`${message} (${res.status} ${code})`, {
        status: res.status,
        code,
        hint: hintFor(res.status, code, message),
        exitCode: res.status === 400 ? 2 : 1,
      });
    }
  }
}

/** @param {string} base @param {unknown} error @param {number} timeoutMs */
function networkError(base, error, timeoutMs) {
  const err = /** @type {{ name?: string, message?: string, cause?: { code?: string, message?: string } }} */ (error);
  if (err?.name === "TimeoutError") {
    return new CliError(`${base} did not answer within ${timeoutMs / 1000} s`, { hint: "is the worker overloaded, or DLQ_URL wrong?" });
  }
  const reason = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(error);
  return new CliError(`could not reach ${base}: ${reason}`, {
    hint: "is the worker running (`npm start` locally), and is DLQ_URL (or --url) right?",
  });
}

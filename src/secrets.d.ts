// Secrets are set with `wrangler secret put` (and, locally, by scripts/start.mjs or .dev.vars).
// They are optional: each feature that needs one says what happens without it.
declare namespace Cloudflare {
  interface Env {
    /** Seals original job bodies that redaction changed, so a retry can send them unchanged. */
    RETRY_SEAL_KEY?: string;
  }
}

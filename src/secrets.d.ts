// Secrets are set with `wrangler secret put` (and, locally, by scripts/start.mjs or .dev.vars).
// They are optional: each feature that needs one says what happens without it.
declare namespace Cloudflare {
  interface Env {
    /** Seals original job bodies that redaction changed, so a retry can send them unchanged. */
    RETRY_SEAL_KEY?: string;
    /** The admin token of the ops API (any tenant, token management, /metrics). Unset: no admin access at all. */
    ADMIN_TOKEN?: string;
    /** HMAC-SHA256 key signing user notice webhooks; without it they are sent unsigned. */
    USER_NOTIFY_WEBHOOK_SECRET?: string;
    /** Slack-compatible incoming webhook for ops alerts; without it, no Slack alerts. */
    OPS_SLACK_WEBHOOK_URL?: string;
    /** PagerDuty Events API v2 routing key; without it, no pages. */
    OPS_PAGERDUTY_ROUTING_KEY?: string;
  }
}

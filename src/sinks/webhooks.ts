// Outbound webhooks: a Slack-compatible incoming webhook and PagerDuty Events API v2 for ops, and
// a signed webhook for user notices. Payloads are formatted and signed at send time, so no
// secret (routing key, signing key) is ever stored with a pending delivery.

import type { NotifyConfig } from "../config";
import { faultPoint } from "../faults";
import type { DeliveryResult, Destination, OpsAlert, Severity, UserNotice } from "../model";

export interface OutboundRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}


const SEVERITY_EMOJI: Record<Severity, string> = { critical: ":rotating_light:", error: ":red_circle:", warning: ":warning:", info: ":information_source:" };

export function slackMessage(alert: OpsAlert): { text: string } {
  const head = alert.action === "resolve" ? ":white_check_mark: resolved" : SEVERITY_EMOJI[alert.severity];
  const details = Object.entries(alert.details)
    .filter(([, v]) => v !== null && v !== "")
    .map(([k, v]) => `${k}: ${v}`)
    .join(" · ");
  return { text: `${head} [${alert.tenant}] ${alert.summary}${details ? `\n${details}` : ""}` };
}

export function pagerDutyEvent(alert: OpsAlert, routingKey: string) {
  const dedup_key = alert.dedupKey.slice(0, 255);
  if (alert.action === "resolve") return { routing_key: routingKey, event_action: "resolve" as const, dedup_key };
  return {
    routing_key: routingKey,
    event_action: "trigger" as const,
    dedup_key,
    payload: {
      summary: alert.summary.slice(0, 1024),
      source: `dlq-ledger/${alert.tenant}`,
      severity: alert.severity,
      component: String(alert.details.queue ?? "dlq-ledger"),
      group: alert.tenant,
      class: String(alert.details.class ?? "alert"),
      custom_details: alert.details,
    },
  };
}

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Signature header value for a user webhook: HMAC-SHA256 over `${timestamp}.${body}`. */
export async function signUserWebhook(secret: string, timestamp: number, body: string): Promise<string> {
  return `sha256=${await hmacHex(secret, `${timestamp}.${body}`)}`;
}

/** The request for one delivery, or null when its destination is not configured (any more). */
export async function outboundRequest(notify: NotifyConfig, destination: Destination, payload: unknown, now: number): Promise<OutboundRequest | null> {
  const json = { "content-type": "application/json" };
  switch (destination) {
    case "slack":
      return notify.slackWebhookUrl ? { url: notify.slackWebhookUrl, headers: json, body: JSON.stringify(slackMessage(payload as OpsAlert)) } : null;
    case "pagerduty":
      return notify.pagerDutyRoutingKey
        ? { url: notify.pagerDutyUrl, headers: json, body: JSON.stringify(pagerDutyEvent(payload as OpsAlert, notify.pagerDutyRoutingKey)) }
        : null;
    case "user_webhook": {
      if (!notify.userWebhookUrl) return null;
      const notice = payload as UserNotice;
      const timestamp = Math.floor(now / 1000);
      const body = JSON.stringify({ type: notice.kind === "digest" ? "jobs.digest" : "job.failed", notice: { ...notice, createdAt: new Date(notice.createdAt).toISOString() } });
      const headers: Record<string, string> = { ...json, "x-dlq-timestamp": String(timestamp), "x-dlq-delivery": notice.id };
      if (notify.userWebhookSecret) headers["x-dlq-signature"] = await signUserWebhook(notify.userWebhookSecret, timestamp, body);
      return { url: notify.userWebhookUrl, headers, body };
    }
  }
}

/** Retry-After is seconds or an HTTP date. */
export function retryAfterMs(header: string | null, now: number): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 3600) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.min(Math.max(0, at - now), 3600_000);
}

export async function send(destination: Destination, request: OutboundRequest, now: number): Promise<DeliveryResult> {
  try {
    faultPoint("webhook.send", destination);
    const response = await fetch(request.url, { method: "POST", headers: request.headers, body: request.body });
    // Read the body so the connection is released; its content is not needed.
    await response.arrayBuffer();
    if (response.ok) return { ok: true };
    return {
      ok: false,
      status: response.status,
      retryAfterMs: response.status === 429 || response.status === 503 ? retryAfterMs(response.headers.get("retry-after"), now) : null,
      error: `${destination} answered ${response.status}`,
    };
  } catch (error) {
    return { ok: false, status: null, retryAfterMs: null, error: `${destination}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

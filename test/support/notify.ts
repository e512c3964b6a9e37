import { env } from "cloudflare:workers";

export interface ReceivedRequest {
  host: string;
  path: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  answered: number;
}

/** Webhook endpoints unique to one test, so its requests can be told apart. */
export function endpoints(tag: string) {
  return {
    slack: `slack-${tag}.test`,
    pagerduty: `events-${tag}.test`,
    users: `app-${tag}.test`,
  };
}

/** Everything the outside world received at `host` (webhooks reach the receiver worker). */
export async function requestsTo(host: string): Promise<ReceivedRequest[]> {
  return (await env.RECEIVER.fetch(`http://receiver/requests?host=${encodeURIComponent(host)}`)).json();
}

/** How `host` answers its next requests, in order (then 200). */
export async function script(host: string, responses: { status: number; retryAfter?: number; json?: unknown }[]): Promise<void> {
  await env.RECEIVER.fetch("http://receiver/script", { method: "POST", body: JSON.stringify({ host, responses }) });
}

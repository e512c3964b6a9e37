import { exports } from "cloudflare:workers";
import type { LiveServerMessage } from "../../src/contract/schemas";
import { ADMIN_TOKEN, apiFetch } from "./api";

type Message = Extract<LiveServerMessage, { type: string }>;
export type Update = Extract<Message, { type: "update" }>;
export type Snapshot = Extract<Message, { type: "snapshot" }>;

/** A ticket for `tenant` from POST /api/live/ticket, with the admin token unless another is given. */
export async function liveTicket(tenant: string, token = ADMIN_TOKEN): Promise<string> {
  const res = await apiFetch(`/api/live/ticket?tenant=${encodeURIComponent(tenant)}`, { method: "POST" }, token);
  if (res.status !== 201) throw new Error(`ticket for ${tenant}: ${res.status} ${await res.text()}`);
  return (await res.json<{ ticket: string }>()).ticket;
}

/** GET /api/live through the worker, as a browser's WebSocket would send it. */
export function upgrade(query: Record<string, string>, headers: Record<string, string> = { upgrade: "websocket" }): Promise<Response> {
  return exports.default.fetch(`http://local/api/live?${new URLSearchParams(query)}`, { headers });
}

/** The client end of a live socket: every message it received, in order, and waits on them. */
export class LiveClient {
  readonly received: Message[] = [];
  /** Plain text frames, such as "pong". */
  readonly texts: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.accept();
    ws.addEventListener("message", (event) => {
      // "pong" (the runtime's answer to "ping") is text, not a message of the protocol.
      if (typeof event.data === "string" && event.data.startsWith("{")) this.received.push(JSON.parse(event.data) as Message);
      else this.texts.push(String(event.data));
      this.wake();
    });
    this.closed = new Promise((resolve) => ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** The first message from index `from` on that matches; waits for it to arrive. */
  async next<T extends Message>(match: (m: Message) => m is T, from = 0): Promise<T> {
    for (;;) {
      const found = this.received.slice(from).find(match);
      if (found) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async text(expected: string): Promise<void> {
    while (!this.texts.includes(expected)) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  updates(): Update[] {
    return this.received.filter((m): m is Update => m.type === "update");
  }

  /** The first update that shows `jobId`. */
  updateWith(jobId: string): Promise<Update> {
    return this.next((m): m is Update => m.type === "update" && m.failures.some((f) => f.jobId === jobId));
  }

  close(): void {
    try {
      this.ws.close(1000, "done");
    } catch {
      // already closed
    }
  }
}

/** A ticket, then the upgrade: the open socket, its first message read. */
export async function connect(tenant: string, options: { token?: string; since?: number; origin?: string } = {}): Promise<LiveClient> {
  const ticket = await liveTicket(tenant, options.token);
  const query: Record<string, string> = { tenant, ticket };
  if (options.since !== undefined) query.since = String(options.since);
  const res = await upgrade(query, { upgrade: "websocket", ...(options.origin ? { origin: options.origin } : {}) });
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade for ${tenant}: ${res.status} ${await res.text()}`);
  const client = new LiveClient(res.webSocket);
  await client.next((m): m is Message => m.type === "snapshot" || m.type === "resumed");
  return client;
}

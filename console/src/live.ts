// Live updates from the tenant's ledger: a ticket from POST /api/live/ticket (the token never goes
// in a URL), then a WebSocket to GET /api/live. One connection per tenant, shared by every view
// that watches it; it reconnects with ?since=<last seq> and gets `resumed` or a fresh snapshot.
// While it is not connected, the views poll instead.

import { useEffect, useState } from "preact/hooks";
import type { z } from "zod";
import type * as S from "../../src/contract/schemas";
import { api, tenantQuery, type Failure, type Group, type Operation, type Stats } from "./api";

type ServerMessage = z.infer<typeof S.LiveServerMessage>;
type Ticket = z.infer<typeof S.LiveTicket>;

export interface LiveState {
  status: "connecting" | "live" | "offline";
  seq: number;
  stats?: Stats;
  /** Bumped on every snapshot or update: views that hold their own lists re-read on a change. */
  version: number;
  /** What the last message said changed (all of it, for a snapshot). */
  changed: { failures: Failure[]; groups: Group[]; operations: Operation[]; truncated: boolean };
}

const INITIAL: LiveState = { status: "connecting", seq: -1, version: 0, changed: { failures: [], groups: [], operations: [], truncated: false } };
const KEEPALIVE_MS = 30_000;
const MAX_BACKOFF_MS = 30_000;

class Feed {
  state: LiveState = INITIAL;
  private listeners = new Set<(s: LiveState) => void>();
  private socket: WebSocket | null = null;
  private closed = false;
  private attempt = 0;
  private timers: ReturnType<typeof setTimeout>[] = [];

  constructor(readonly tenant: string) {
    void this.connect();
  }

  subscribe(listener: (s: LiveState) => void): () => void {
    this.listeners.add(listener);
    listener(this.state);
    return () => this.listeners.delete(listener);
  }

  get watchers(): number {
    return this.listeners.size;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.socket?.close(1000, "done");
  }

  private set(next: Partial<LiveState>): void {
    this.state = { ...this.state, ...next };
    for (const listener of this.listeners) listener(this.state);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let ticket: Ticket;
    try {
      ticket = await api<Ticket>("/api/live/ticket", { method: "POST", query: tenantQuery(this.tenant) });
    } catch {
      return this.retry();
    }
    if (this.closed) return;
    const since = this.state.seq >= 0 ? `&since=${this.state.seq}` : "";
    const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${ticket.url}${since}`);
    this.socket = socket;
    const keepalive = setInterval(() => socket.readyState === WebSocket.OPEN && socket.send("ping"), KEEPALIVE_MS);
    socket.onmessage = (event) => {
      if (typeof event.data !== "string" || event.data === "pong") return;
      this.attempt = 0;
      this.receive(JSON.parse(event.data) as ServerMessage);
    };
    socket.onclose = () => {
      clearInterval(keepalive);
      if (this.socket === socket) this.socket = null;
      this.retry();
    };
  }

  private retry(): void {
    if (this.closed) return;
    this.set({ status: "offline" });
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.attempt++);
    this.timers.push(setTimeout(() => void this.connect(), delay));
  }

  private receive(message: ServerMessage): void {
    switch (message.type) {
      case "snapshot":
        this.set({
          status: "live",
          seq: message.seq,
          stats: message.stats,
          version: this.state.version + 1,
          changed: { failures: message.failures, groups: message.groups, operations: message.operations, truncated: true },
        });
        return;
      case "resumed":
        this.set({ status: "live", seq: message.seq });
        return;
      case "update":
        this.set({
          status: "live",
          seq: message.seq,
          stats: message.stats,
          version: this.state.version + 1,
          changed: { failures: message.failures, groups: message.groups, operations: message.operations, truncated: message.truncated },
        });
        return;
      case "error":
        console.warn(`live updates: ${message.error.message}`);
        return;
    }
  }
}

const feeds = new Map<string, Feed>();

/** Watches a tenant's ledger live while the calling view is mounted. */
export function useLive(tenant: string): LiveState {
  const [state, setState] = useState<LiveState>(() => feeds.get(tenant)?.state ?? INITIAL);
  useEffect(() => {
    let feed = feeds.get(tenant);
    if (!feed) feeds.set(tenant, (feed = new Feed(tenant)));
    const unsubscribe = feed.subscribe(setState);
    return () => {
      unsubscribe();
      // Kept a moment, so moving between a tenant's pages does not reconnect.
      setTimeout(() => {
        const current = feeds.get(tenant);
        if (current && current.watchers === 0) {
          current.close();
          feeds.delete(tenant);
        }
      }, 2000);
    };
  }, [tenant]);
  return state;
}

/** Forget every connection (on sign-out). */
export function closeAllFeeds(): void {
  for (const feed of feeds.values()) feed.close();
  feeds.clear();
}

/** Runs `action` when a live message says something `wanted` changed (at most once a second). */
export function useLiveChange(live: LiveState, wanted: (changed: LiveState["changed"]) => boolean, action: () => void): void {
  const [last, setLast] = useState(0);
  useEffect(() => {
    if (live.version === 0 || !wanted(live.changed)) return;
    const wait = Math.max(0, last + 1000 - Date.now());
    const timer = setTimeout(() => {
      setLast(Date.now());
      action();
    }, wait);
    return () => clearTimeout(timer);
  }, [live.version]);
}

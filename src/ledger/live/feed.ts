// Live updates: the ledger accepts WebSockets with the hibernation API and pushes what changed.
//
// Nothing a socket needs lives in memory: who opened it and the last seq it was sent are in its
// attachment, so the object may hibernate or be evicted and a fresh instance pushes on. Memory
// holds only what changed since the last push (a few ids) and a cache of the seq. With no socket
// connected a change costs one getWebSockets() call and nothing else.

import { errorResponse } from "../../contract/errors";
import { LiveClientMessage, type LiveServerMessage } from "../../contract/schemas";
import type { LedgerStats } from "../../contract/schemas";
import type { LiveChange } from "../change";
import { FailureStore } from "../store";
import { viewOperation, type OperationView } from "../recovery/operation-views";
import { withSparklines } from "../aggregates/series";
import { consumeTicket, revokeTickets, type LiveGrant } from "./tickets";
import { run, sql } from "../../sql";

/** At most one update per socket per this much ledger time; changes in between are merged. */
export const PUSH_INTERVAL_MS = 250;
/** Changed failures (and groups) one update carries; beyond it the update says `truncated`. */
export const MAX_CHANGED = 100;
const MAX_OPERATIONS = 20;
/** An update larger than this (long stacks) carries fewer failures and says `truncated`. */
const MAX_MESSAGE_CHARS = 256 * 1024;
/** Close code of a socket whose token was revoked (4000-4999: the application's own). */
export const REVOKED_CLOSE_CODE = 4401;

/** What the feed needs of the ledger. */
export interface LiveSources {
  sql: SqlStorage;
  tenant(): string;
  /** The ledger's clock: tickets expire and pushes are paced by it (tests move it). */
  now(): number;
  stats(): Promise<LedgerStats>;
}

interface Attachment extends LiveGrant {
  v: 1;
  /** The last seq this socket was sent. */
  seq: number;
  connectedAt: number;
}

type LiveUpdate = Extract<LiveServerMessage, { type: "update" }>;

const tokenTag = (tokenId: string) => `token:${tokenId}`;

/** Keeps the most recent `max` ids in insertion order; says whether any fell out. */
class RecentIds {
  readonly ids = new Set<string>();
  overflowed = false;
  constructor(private readonly max: number) {}
  add(id: string): void {
    this.ids.delete(id);
    this.ids.add(id);
    if (this.ids.size > this.max) {
      this.ids.delete(this.ids.values().next().value!);
      this.overflowed = true;
    }
  }
  take(): { ids: string[]; overflowed: boolean } {
    const taken = { ids: [...this.ids], overflowed: this.overflowed };
    this.ids.clear();
    this.overflowed = false;
    return taken;
  }
}

export class LiveFeed {
  private jobs = new RecentIds(MAX_CHANGED);
  private groups = new RecentIds(MAX_CHANGED);
  private operations = new RecentIds(MAX_OPERATIONS);
  private dirty = false;
  /**
   * Coalescing timer. A setTimeout, not the alarm: it is sub-second, costs no storage write, and
   * dies with the instance, which is harmless because a pending timer keeps the object awake
   * (an object hibernates only with no event or timer pending) and an object that is reset
   * disconnects its sockets too. The alarm stays the one scheduler of durable work.
   */
  private timer: ReturnType<typeof setTimeout> | null = null;
  private nextPushAt = 0;
  /** Cache of the last seq sent; null after a wake until read back from the attachments. */
  private seq: number | null = null;
  /** A change happened while nobody watched: the next client must get a snapshot. */
  private missed = false;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly sources: LiveSources,
  ) {
    // Answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  /** The Upgrade the worker forwarded: consumes the ticket, accepts the socket, sends the first message. */
  async accept(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse(426, "upgrade_required", "this is a WebSocket endpoint: send 'Upgrade: websocket'", undefined, { upgrade: "websocket" });
    }
    const url = new URL(request.url);
    const grant = await consumeTicket(this.sources.sql, url.searchParams.get("ticket") ?? "", this.sources.now());
    if (!grant) {
      return errorResponse(
        401,
        "unauthorized",
        "the ticket is not valid for this tenant: it may be mistyped, expired (tickets last 60 s) or already used; get a new one from POST /api/live/ticket",
      );
    }
    const sinceParam = url.searchParams.get("since");
    const since = sinceParam === null ? undefined : Number(sinceParam);
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [tokenTag(grant.tokenId)]);
    const attachment: Attachment = { v: 1, ...grant, seq: 0, connectedAt: Date.now() };
    server.serializeAttachment(attachment);
    await this.sync(server, since);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** A client message: `{"type":"sync","since":N}` asks for what it missed. */
  async message(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    let parsed: unknown;
    try {
      parsed = typeof data === "string" ? JSON.parse(data) : undefined;
    } catch {
      parsed = undefined;
    }
    const request = LiveClientMessage.safeParse(parsed);
    if (!request.success) {
      send(ws, { type: "error", error: { code: "invalid_message", message: 'send {"type":"sync","since":<last seq>} or the text "ping"' } });
      return;
    }
    await this.sync(ws, request.data.since);
  }

  /** Closes the sockets a token opened and voids its unused tickets (the token was revoked). */
  closeToken(tokenId: string): number {
    revokeTickets(this.sources.sql, tokenId);
    const sockets = this.ctx.getWebSockets(tokenTag(tokenId));
    for (const ws of sockets) {
      try {
        ws.close(REVOKED_CLOSE_CODE, "token revoked");
      } catch {
        // already closing
      }
    }
    return sockets.length;
  }

  /** The client closed (or the socket failed): finish the closing handshake. */
  closed(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed: the runtime may have answered the close itself
    }
  }

  /**
   * Something changed. Pushed to every socket at most once per PUSH_INTERVAL_MS, merged. A
   * function is called only when someone watches.
   */
  changed(what: LiveChange | (() => LiveChange) = {}): void {
    if (this.ctx.getWebSockets().length === 0) {
      this.missed = true;
      return;
    }
    const change = typeof what === "function" ? what() : what;
    for (const id of change.jobs ?? []) this.jobs.add(id);
    for (const id of change.groups ?? []) this.groups.add(id);
    for (const id of change.operations ?? []) this.operations.add(id);
    this.dirty = true;
    this.arm();
  }

  private arm(): void {
    if (this.timer !== null) return;
    const wait = Math.min(PUSH_INTERVAL_MS, Math.max(0, this.nextPushAt - this.sources.now()));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.push().catch((error: unknown) => console.error(`ledger ${this.sources.tenant()}: live push failed`, error));
    }, wait);
  }

  private async push(): Promise<void> {
    if (!this.dirty) return;
    const sockets = this.ctx.getWebSockets();
    const now = this.sources.now();
    // Not yet (the ledger's clock is behind the real one, as in tests): look again later.
    if (sockets.length > 0 && now < this.nextPushAt && this.nextPushAt - now <= PUSH_INTERVAL_MS) return this.arm();
    const jobs = this.jobs.take();
    const groups = this.groups.take();
    const operations = this.operations.take();
    this.dirty = false;
    if (sockets.length === 0) {
      this.missed = true;
      return;
    }
    this.nextPushAt = now + PUSH_INTERVAL_MS;
    const storage = this.sources.sql;
    let update: Omit<LiveUpdate, "seq">;
    try {
      const failures = FailureStore.readOnly(storage).summaries(this.sources.tenant(), jobs.ids);
      const held = new Set(failures.map((f) => f.jobId));
      update = {
        type: "update",
        stats: await this.sources.stats(),
        failures,
        removed: jobs.ids.filter((id) => !held.has(id)),
        groups: withSparklines(storage, FailureStore.readOnly(storage).groupSummaries(groups.ids, now), now),
        operations: operationViews(storage, operations.ids),
        truncated: jobs.overflowed || groups.overflowed,
      };
    } catch (error) {
      // The ids taken are gone from memory: the next update tells clients to re-read the lists.
      this.jobs.overflowed = true;
      this.dirty = true;
      this.arm();
      throw error;
    }
    const seq = this.currentSeq() + 1;
    this.seq = seq;
    broadcast(sockets, seq, fit({ ...update, seq }));
  }

  /**
   * The seq of the last update: from memory, else the highest a socket was sent, else (no socket,
   * memory lost) a new series starting at the time, above any seq an earlier instance sent.
   */
  private currentSeq(): number {
    if (this.seq !== null) return this.seq;
    let highest: number | null = null;
    for (const ws of this.ctx.getWebSockets()) {
      const seq = attachmentOf(ws)?.seq ?? 0;
      if (seq > 0 && (highest === null || seq > highest)) highest = seq;
    }
    this.seq = highest ?? Date.now();
    return this.seq;
  }

  /** Resumed when `since` is the last seq and nothing was missed since; else a snapshot. */
  private async sync(ws: WebSocket, since: number | undefined): Promise<void> {
    if (this.missed) {
      // State changed while nobody watched: no earlier seq may be resumed from.
      this.seq = this.currentSeq() + 1;
      this.missed = false;
    }
    const seq = this.currentSeq();
    if (since !== undefined && since === seq) {
      broadcast([ws], seq, JSON.stringify({ type: "resumed", seq } satisfies LiveServerMessage));
      return;
    }
    const storage = this.sources.sql;
    const running = run<{ id: string }>(storage, sql`SELECT id FROM operations WHERE status = 'running' ORDER BY created_at DESC LIMIT ${MAX_OPERATIONS}`)
      .toArray()
      .map((o) => o.id);
    const snapshot: LiveServerMessage = {
      type: "snapshot",
      seq,
      tenant: this.sources.tenant(),
      stats: await this.sources.stats(),
      failures: FailureStore.readOnly(storage).page(this.sources.tenant(), { limit: 50 }).items,
      groups: withSparklines(storage, FailureStore.readOnly(storage).groups(100, this.sources.now()), this.sources.now()),
      operations: operationViews(storage, running),
    };
    broadcast([ws], seq, JSON.stringify(snapshot));
  }
}

/** The update as text, its failures halved until it fits MAX_MESSAGE_CHARS. */
function fit(update: LiveUpdate): string {
  let text = JSON.stringify(update);
  while (update.failures.length > 0 && text.length > MAX_MESSAGE_CHARS) {
    update = { ...update, failures: update.failures.slice(0, Math.floor(update.failures.length / 2)), truncated: true };
    text = JSON.stringify(update);
  }
  return text;
}

function operationViews(storage: SqlStorage, ids: readonly string[]): OperationView[] {
  return ids.map((id) => viewOperation(storage, id)).filter((op) => op !== null);
}

function attachmentOf(ws: WebSocket): Attachment | null {
  const value = ws.deserializeAttachment() as Attachment | null;
  return value?.v === 1 ? value : null;
}

function send(ws: WebSocket, message: LiveServerMessage): void {
  try {
    ws.send(JSON.stringify(message));
  } catch {
    // getWebSockets() can list a socket that is already closing
  }
}

/** One serialised message, sent to each socket; each remembers the seq it was sent. */
function broadcast(sockets: readonly WebSocket[], seq: number, text: string): void {
  for (const ws of sockets) {
    try {
      ws.send(text);
      const attachment = attachmentOf(ws);
      if (attachment) ws.serializeAttachment({ ...attachment, seq });
    } catch {
      // closing
    }
  }
}

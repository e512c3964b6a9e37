// What a ledger runs with: its settings (from wrangler vars), its clock and its source of jitter.
// They come in one place, the constructor (a subclass such as the bench's passes its own clock);
// a development stack (DEV_ROUTES) may also retune a running ledger through its `tune` RPC.

import { readConfig, type Config, type NotifyConfig, type RecoveryConfig } from "../config";
import { ALL_MECHANISMS, type Mechanisms } from "./store/mechanisms";

export type LedgerSettings = Pick<Config, "devRoutes" | "flushDelayMs" | "retention" | "d1" | "recovery" | "notify">;

export interface LedgerSetup {
  readonly settings: LedgerSettings;
  readonly clock: () => number;
  readonly random: () => number;
  readonly mechanisms: Readonly<Mechanisms>;
}

export interface LedgerOptions {
  clock?: () => number;
  random?: () => number;
  /** The store's mechanisms (all on unless the bench turns one off to measure it). */
  mechanisms?: Partial<Mechanisms>;
}

export function setupFor(env: Env, options: LedgerOptions = {}): LedgerSetup {
  const { devRoutes, flushDelayMs, retention, d1, recovery, notify } = readConfig(env);
  return {
    settings: { devRoutes, flushDelayMs, retention, d1, recovery, notify },
    clock: options.clock ?? (() => Date.now()),
    random: options.random ?? Math.random,
    mechanisms: { ...ALL_MECHANISMS, ...options.mechanisms },
  };
}

/** A running ledger retuned, for tests and the local stack: plain data, so it travels over RPC. */
export interface Tuning {
  /** The ledger's time from now on, fixed; null gives it the real time back. */
  now?: number | null;
  /** Jitter from a seeded generator, reproducibly. */
  seed?: number;
  flushDelayMs?: number;
  retention?: Partial<LedgerSettings["retention"]>;
  d1?: Partial<LedgerSettings["d1"]>;
  recovery?: Partial<Omit<RecoveryConfig, "circuit">> & { circuit?: Partial<RecoveryConfig["circuit"]> };
  notify?: Partial<NotifyConfig>;
}

export function tuned(setup: LedgerSetup, t: Tuning): LedgerSetup {
  const s = setup.settings;
  const now = t.now;
  return {
    settings: {
      ...s,
      flushDelayMs: t.flushDelayMs ?? s.flushDelayMs,
      retention: { ...s.retention, ...t.retention },
      d1: { ...s.d1, ...t.d1 },
      recovery: { ...s.recovery, ...t.recovery, circuit: { ...s.recovery.circuit, ...t.recovery?.circuit } },
      notify: { ...s.notify, ...t.notify },
    },
    clock: now === undefined ? setup.clock : now === null ? () => Date.now() : () => now,
    random: t.seed === undefined ? setup.random : seeded(t.seed),
    mechanisms: setup.mechanisms,
  };
}

/** mulberry32: small, fast, good enough to pick jobs, errors and jitter reproducibly. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

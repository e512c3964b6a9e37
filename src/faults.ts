// The one seam for fault injection: named points at the binding boundary that a test (or the
// chaos run) can arm to throw. Unarmed, a point costs one map lookup and does nothing.

export type FaultPoint =
  | "ledger.record.before-commit"
  | "ledger.record.after-commit"
  | "parking.put"
  | "parking.d1"
  | "r2.put"
  | "d1.batch"
  | "analytics.write"
  | "recovery.send"
  | "recovery.after-send"
  | "webhook.send"
  | "alarm";

interface Armed {
  remaining: number;
  /** When set, only passes with this key (e.g. a tenant) trip the fault. */
  key?: string;
}

const armed = new Map<FaultPoint, Armed[]>();
/** How many times each point has thrown since the isolate started (the chaos report reads it). */
const fired = new Map<FaultPoint, number>();

export class InjectedFault extends Error {
  constructor(readonly point: FaultPoint) {
    super(`injected fault at ${point}`);
    this.name = "InjectedFault";
  }
}

/** Makes the next `times` passes through `point` (with `key`, if given) throw. */
export function armFault(point: FaultPoint, options: { times?: number; key?: string } = {}): void {
  armed.set(point, [...(armed.get(point) ?? []), { remaining: options.times ?? 1, key: options.key }]);
}

export function disarmFaults(): void {
  armed.clear();
}

export function faultPoint(point: FaultPoint, key?: string): void {
  const entries = armed.get(point);
  const entry = entries?.find((e) => e.remaining > 0 && (e.key === undefined || e.key === key));
  if (!entry) return;
  entry.remaining--;
  if (entry.remaining === 0) entries!.splice(entries!.indexOf(entry), 1);
  fired.set(point, (fired.get(point) ?? 0) + 1);
  throw new InjectedFault(point);
}

export function faultsFired(): Partial<Record<FaultPoint, number>> {
  return Object.fromEntries(fired);
}

// The one seam for fault injection: named points at the binding boundary that a test (or the
// chaos run) can arm to throw. Unarmed, a point costs one map lookup and does nothing.

export type FaultPoint =
  | "ledger.record.before-commit"
  | "ledger.record.after-commit"
  | "capture.send"
  | "parking.put";

const armed = new Map<FaultPoint, number>();

export class InjectedFault extends Error {
  constructor(readonly point: FaultPoint) {
    super(`injected fault at ${point}`);
    this.name = "InjectedFault";
  }
}

/** Makes the next `times` passes through `point` throw. */
export function armFault(point: FaultPoint, times = 1): void {
  armed.set(point, (armed.get(point) ?? 0) + times);
}

export function disarmFaults(): void {
  armed.clear();
}

export function faultPoint(point: FaultPoint): void {
  const remaining = armed.get(point);
  if (!remaining) return;
  if (remaining === 1) armed.delete(point);
  else armed.set(point, remaining - 1);
  throw new InjectedFault(point);
}

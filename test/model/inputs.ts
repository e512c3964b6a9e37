// The failures the model-based test's commands are made of: a small pool of jobs (so repeats and
// redeliveries are common), groups per queue, every class, and times relative to the clock that
// arrive late, tie, or lie ahead of it.

import fc from "fast-check";
import type { FailureClass, FailureInput } from "../../src/model";
import { CLASSES, ORIGIN, PLAIN } from "./model";

export const JOBS = 16;
/** A job's queue never changes: every third job comes from the origin queue that can be retried into. */
export const queueOf = (job: number) => (job % 3 === 0 ? ORIGIN : PLAIN);
export const jobId = (job: number) => `j${String(job).padStart(2, "0")}`;

/** Groups are per queue (the fingerprint covers error name, normalised message and queue). */
const GROUPS: Record<string, { fingerprint: string; name: string | null; messages: string[] }[]> = {
  [PLAIN]: [
    { fingerprint: "fp-jobs-timeout", name: "TimeoutError", messages: ["upstream timed out after 30s", "upstream timed out after 31s"] },
    { fingerprint: "fp-jobs-type", name: "TypeError", messages: ["cannot read properties of undefined (reading 'id')"] },
    { fingerprint: "fp-jobs-raw", name: null, messages: [] },
  ],
  [ORIGIN]: [
    { fingerprint: "fp-origin-503", name: "Error", messages: ["upstream 503", "upstream 503 (retry 2)"] },
    { fingerprint: "fp-origin-range", name: "RangeError", messages: ["offset 7 out of range", "offset 9 out of range"] },
  ],
};
export const FINGERPRINTS = Object.values(GROUPS).flatMap((gs) => gs.map((g) => g.fingerprint));

const REASONS: Record<FailureClass, string> = {
  RECOVERABLE: "retryable HTTP status",
  USER_ERROR: "invalid input",
  SYSTEM_ERROR: "server error status",
  UNKNOWN: "no error context",
};

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
/** When an occurrence failed, relative to the clock: late ones, ties, and some ahead of the clock (> 5 min). */
const WHEN = [-2 * 24 * HOUR, -3 * HOUR, -90_000, -1000, 0, 0, 0, 1000, 2 * MINUTE, 10 * MINUTE, HOUR];

export interface Occurrence {
  job: number;
  key: number;
  group: number;
  cls: number;
  when: number;
  jitter: number;
  attempts: number;
  user: number;
  body: number;
  message: number;
}

export const occurrenceArb: fc.Arbitrary<Occurrence> = fc.record({
  // a few jobs most of the time, so that repeats and redeliveries are common
  job: fc.oneof({ weight: 3, arbitrary: fc.nat(5) }, { weight: 1, arbitrary: fc.nat(JOBS - 1) }),
  key: fc.nat(4),
  group: fc.nat(2),
  cls: fc.nat(3),
  when: fc.nat(WHEN.length - 1),
  jitter: fc.constantFrom(0, 0, 137, 500),
  attempts: fc.integer({ min: 1, max: 4 }),
  user: fc.nat(2),
  body: fc.nat(2),
  message: fc.nat(1),
});

/** The failure an occurrence stands for, dated by the clock `now`. */
export function inputOf(o: Occurrence, tenant: string, now: number, id = jobId(o.job), queue = queueOf(o.job)): FailureInput {
  const groups = GROUPS[queue]!;
  const g = groups[o.group % groups.length]!;
  const cls = CLASSES[o.cls]!;
  const lastFailedAt = now + WHEN[o.when]! + o.jitter;
  const message = g.messages[o.message % Math.max(g.messages.length, 1)];
  return {
    jobId: id,
    occurrenceKey: `o${o.key}`,
    ...(o.user === 0 ? {} : { userId: `u${o.user}` }),
    queue,
    class: cls,
    reason: g.name === null ? "no error context" : REASONS[cls],
    fingerprint: g.fingerprint,
    error: g.name === null || message === undefined ? null : { name: g.name, message, ...(cls === "RECOVERABLE" ? { status: 503 } : {}) },
    body: JSON.stringify({ tenantId: tenant, jobId: id, v: o.body }),
    bodyEncoding: "json",
    attempts: o.attempts,
    firstFailedAt: lastFailedAt - (o.attempts - 1) * 1000,
    lastFailedAt,
  };
}

const showWhen = (o: Occurrence) => {
  const ms = WHEN[o.when]! + o.jitter;
  return ms === 0 ? "now" : `${ms > 0 ? "+" : ""}${ms}ms`;
};
export const showOccurrence = (o: Occurrence, id = jobId(o.job), queue = queueOf(o.job)) => {
  const groups = GROUPS[queue]!;
  return `${id}#o${o.key} ${CLASSES[o.cls]} ${groups[o.group % groups.length]!.fingerprint} at ${showWhen(o)} a${o.attempts}${o.user ? ` u${o.user}` : ""} b${o.body} m${o.message}`;
};

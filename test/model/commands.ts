// The commands of the model-based test: each one acts on the model and on a real ledger in
// workerd, then every read is compared (compare.ts). Each prints as a line that says what it did,
// so a shrunk counterexample reads as a script.

import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { expect } from "vitest";
import type { FailureLedger } from "../../src/failure-ledger";
import { ledger } from "../support/failures";
import { compareAll } from "./compare";
import { FINGERPRINTS, HOUR, JOBS, MINUTE, inputOf, jobId, occurrenceArb, showOccurrence, type Occurrence } from "./inputs";
import { CLASSES, LedgerModel, ORIGIN, PLAIN, SETTINGS, STATUSES, detailOf, groupOf, type Filter, type Refusal, type TriageVerb } from "./model";

export type Stub = DurableObjectStub<FailureLedger>;

export interface Real {
  tenant: string;
  stub: Stub;
  /** commands run so far in this sequence (varies the page size and the filter combinations) */
  step: number;
}

/** The clock every sequence starts at: far ahead, so that no alarm rings on its own during a test. */
export const T0 = Date.UTC(2035, 0, 1);
/** The clock never goes further than this past T0: the default retention (30 days) never applies. */
const MAX_CLOCK_ADVANCE = 20 * 24 * 3600_000;

/** The ledger's settings as the model assumes them (lost on a restart, so applied again). */
export function tuning(now: number) {
  return {
    now,
    seed: 1,
    flushDelayMs: 0,
    retention: SETTINGS.defaultRetention,
    recovery: {
      defaults: { baseSeconds: SETTINGS.retryDelayMs / 1000, capSeconds: SETTINGS.retryDelayMs / 1000, maxAttempts: SETTINGS.maxAttempts },
      presumeAfterMs: SETTINGS.presumeAfterMs,
      circuit: { threshold: 1_000_000 },
    },
  };
}

// ---- driving the real ledger ----------------------------------------------------------------------

/** Runs the ledger's alarm, at its clock, as long as work is due by it (the platform would ring it). */
async function runDueAlarms(real: Real, now: number): Promise<void> {
  for (let run = 0; run < 50; run++) {
    const at = await runInDurableObject(real.stub, (_ledger: FailureLedger, state) => state.storage.getAlarm());
    if (at === null || at > now) return;
    await runDurableObjectAlarm(real.stub);
  }
  throw new Error(`the alarm kept finding due work at the same time (${now})`);
}

const isRefusal = (r: unknown): r is { refused: string; message: string } => typeof r === "object" && r !== null && "refused" in r;

function expectAnswer(actual: unknown, expected: Refusal | ReturnType<typeof detailOf>, what: string): void {
  if (typeof expected === "string") expect(isRefusal(actual) ? actual.refused : actual, what).toBe(expected);
  else expect(actual, what).toEqual(expected);
}

type Command = fc.AsyncCommand<LedgerModel, Real>;

abstract class Checked implements Command {
  check(_m: Readonly<LedgerModel>): boolean {
    return true;
  }
  abstract act(m: LedgerModel, r: Real): Promise<void>;
  async run(m: LedgerModel, r: Real): Promise<void> {
    const evicted = m.counters.evicted;
    const inline = { ...m.inline };
    await this.act(m, r);
    r.step++;
    tally.commands++;
    tally.evicted += m.counters.evicted - evicted;
    tally.evictedInline += m.inline.evicted - inline.evicted;
    tally.blockedInline += m.inline.blocked - inline.blocked;
    const kind = this.constructor.name;
    tally.byKind[kind] = (tally.byKind[kind] ?? 0) + 1;
    await compareAll(m, r);
  }
  abstract toString(): string;
}

/** What the commands did over all sequences (for the run's report). */
export const tally = { commands: 0, evicted: 0, evictedInline: 0, blockedInline: 0, trimSteps: 0, byKind: {} as Record<string, number> };

class RecordBatch extends Checked {
  constructor(readonly occurrences: Occurrence[]) {
    super();
  }
  async act(m: LedgerModel, r: Real) {
    const batch = this.occurrences.map((o) => inputOf(o, r.tenant, m.now));
    const expected = m.record(batch);
    expect(await r.stub.record(batch), "record's answer").toEqual(expected);
  }
  toString() {
    return `record [${this.occurrences.map((o) => showOccurrence(o)).join(", ")}]`;
  }
}

/**
 * The failure a requeue acts on: a pool job by number, or the n-th (counting round) of the failures
 * from the origin queue the ledger holds when it runs, by job id (j00 when it holds none). Most
 * pool jobs are often not held, and only the origin queue's may be sent back.
 */
export type Target = { job: number } | { held: number };

function targetId(t: Target, m: LedgerModel): string {
  if ("job" in t) return jobId(t.job);
  const ids = [...m.failures.values()].filter((f) => f.queue === ORIGIN).map((f) => f.jobId).sort();
  return ids.length === 0 ? jobId(0) : ids[t.held % ids.length]!;
}

const showTarget = (t: Target) => ("job" in t ? jobId(t.job) : `held origin failure #${t.held}`);

class Requeue extends Checked {
  constructor(
    readonly target: Target,
    readonly delaySeconds: number,
  ) {
    super();
  }
  async act(m: LedgerModel, r: Real) {
    const id = targetId(this.target, m);
    const expected = m.requeue(id, this.delaySeconds);
    const actual = await r.stub.requeue(id, "model", this.delaySeconds);
    expectAnswer(actual, typeof expected === "string" ? expected : detailOf(r.tenant, expected), "requeue's answer");
  }
  toString() {
    return `requeue ${showTarget(this.target)}${this.delaySeconds ? ` delay ${this.delaySeconds}s` : ""}`;
  }
}

class Abandon extends Checked {
  constructor(readonly job: number) {
    super();
  }
  async act(m: LedgerModel, r: Real) {
    const reason = `given up on ${jobId(this.job)}`;
    const expected = m.abandon(jobId(this.job), reason);
    const actual = await r.stub.abandon(jobId(this.job), "model", reason);
    expectAnswer(actual, typeof expected === "string" ? expected : detailOf(r.tenant, expected), "abandon's answer");
  }
  toString() {
    return `abandon ${jobId(this.job)}`;
  }
}

class ReportSucceeded extends Checked {
  constructor(readonly jobs: number[]) {
    super();
  }
  async act(m: LedgerModel, r: Real) {
    const ids = this.jobs.map(jobId);
    expect(await r.stub.reportSucceeded(ids), "reportSucceeded's answer").toEqual(m.reportSucceeded(ids));
  }
  toString() {
    return `reportSucceeded [${this.jobs.map(jobId).join(", ")}]`;
  }
}

class Bulk extends Checked {
  constructor(
    readonly action: "requeue" | "abandon",
    filter: Filter,
  ) {
    super();
    // fast-check's records are not plain objects; RPC can only carry plain ones
    this.filter = { ...filter };
  }
  readonly filter: Filter;
  async act(m: LedgerModel, r: Real) {
    const request = { action: this.action, filter: this.filter };
    const preview = await r.stub.previewOperation(request);
    expect(preview.matched, "previewOperation's count").toBe(m.eligible(this.action, this.filter).length);
    const options = this.action === "abandon" ? { reason: "bulk clean-up" } : { delaySeconds: 0 };
    const started = await r.stub.startOperation({ ...request, ...options, rate: 1000 }, "model");
    if (isRefusal(started)) throw new Error(`startOperation refused: ${started.message}`);
    const expected = m.operation(this.action, this.filter, options);
    await runDueAlarms(r, m.now);
    m.alarm();
    const view = await r.stub.getOperation(started.id);
    expect(
      view && { status: view.status, total: view.total, succeeded: view.succeeded, failed: view.failed, failedJobs: view.errors.map((e) => e.jobId) },
      "the operation as it ended",
    ).toEqual({ status: "done", ...expected });
  }
  toString() {
    return `bulk ${this.action} ${JSON.stringify(this.filter)}`;
  }
}

class Triage extends Checked {
  constructor(
    readonly fingerprint: string,
    readonly verb: TriageVerb,
  ) {
    super();
  }
  async act(m: LedgerModel, r: Real) {
    const expected = m.triage(this.fingerprint, this.verb, "model");
    const actual = await r.stub.triageGroup(this.fingerprint, { action: this.verb }, "model");
    if (expected === "not_found") expect(isRefusal(actual) ? actual.refused : actual, "triage's answer").toBe("not_found");
    else expect(isRefusal(actual) ? actual : (({ sparkline: _, ...g }) => g)(actual), "triage's answer").toEqual(groupOf(expected, m.now));
  }
  toString() {
    return `${this.verb} group ${this.fingerprint}`;
  }
}

class Tick extends Checked {
  async act(m: LedgerModel, r: Real) {
    await runDueAlarms(r, m.now);
    m.alarm();
  }
  toString() {
    return "alarm (run what is due)";
  }
}

class Advance extends Checked {
  constructor(readonly ms: number) {
    super();
  }
  override check(m: Readonly<LedgerModel>) {
    return m.now + this.ms - T0 <= MAX_CLOCK_ADVANCE;
  }
  async act(m: LedgerModel, r: Real) {
    m.now += this.ms;
    await r.stub.tune({ now: m.now });
  }
  toString() {
    return `clock +${this.ms}ms`;
  }
}

/**
 * A retention pass: a fresh failure is recorded (so the outbox has a row to flush), the row bound
 * and age are tuned small, the alarm flushes and evicts, and the settings go back to keeping all.
 */
class Retain extends Checked {
  constructor(
    readonly occurrence: Occurrence,
    readonly maxRows: number,
    readonly maxAgeMs: number,
  ) {
    super();
  }
  async act(m: LedgerModel, r: Real) {
    const id = `k${m.retains++}`;
    const batch = [inputOf(this.occurrence, r.tenant, m.now, id, PLAIN)];
    expect(await r.stub.record(batch), "record's answer").toEqual(m.record(batch));
    const policy = { maxRows: this.maxRows, maxAgeMs: this.maxAgeMs };
    await r.stub.tune({ retention: policy });
    m.retention = policy;
    await runDueAlarms(r, m.now);
    m.alarm();
    await r.stub.tune({ retention: SETTINGS.defaultRetention });
    m.retention = SETTINGS.defaultRetention;
  }
  toString() {
    return `retain maxRows ${this.maxRows} maxAge ${this.maxAgeMs}ms, after record [${showOccurrence(this.occurrence, "k*", PLAIN)}]`;
  }
}

/** One occurrence of a pool job, or of a fresh one (`k*`, from the same queue as the pool job). */
export interface TrimOccurrence {
  o: Occurrence;
  fresh: boolean;
}
type TrimStep = { record: TrimOccurrence[] } | "flush";

/**
 * Retention inline, after a record over the row bound: the bound is tuned small (the age bound
 * stays as it is) and batches are recorded without running the alarm first, so a record's pass
 * may evict only what an earlier flush let go, and is blocked on the unflushed outbox row when
 * nothing is left that it may evict. A flush step (the alarm) between records lets everything go;
 * a last flush ends it, and the bound goes back to keeping all. Every read is compared after each
 * step: which failures are held at each one. The first step records a fresh failure, so that the
 * outbox holds a row when the bound is first exceeded.
 */
class TrimInline extends Checked {
  constructor(
    readonly maxRows: number,
    readonly steps: TrimStep[],
  ) {
    super();
  }
  async act(m: LedgerModel, r: Real) {
    const policy = { maxRows: this.maxRows, maxAgeMs: SETTINGS.defaultRetention.maxAgeMs };
    await r.stub.tune({ retention: policy });
    m.retention = policy;
    for (const step of this.steps) {
      if (step === "flush") {
        await runDueAlarms(r, m.now);
        m.alarm();
      } else {
        const batch = step.record.map(({ o, fresh }) => inputOf(o, r.tenant, m.now, fresh ? `k${m.retains++}` : undefined));
        const expected = m.record(batch);
        expect(await r.stub.record(batch), "record's answer").toEqual(expected);
      }
      tally.trimSteps++;
      await compareAll(m, r);
    }
    await runDueAlarms(r, m.now);
    m.alarm();
    await r.stub.tune({ retention: SETTINGS.defaultRetention });
    m.retention = SETTINGS.defaultRetention;
  }
  toString() {
    const show = (step: TrimStep) =>
      step === "flush" ? "flush" : `record [${step.record.map(({ o, fresh }) => showOccurrence(o, fresh ? "k*" : undefined)).join(", ")}]`;
    return `trim inline at maxRows ${this.maxRows}: ${this.steps.map(show).join("; ")}; flush`;
  }
}

/** A replacement body as the test gives one: kept as it is, with a secret to redact, for another job, or not JSON. */
export type EditKind = "fixed" | "secret" | "other-job" | "text";

/** Edit and requeue: the job sent back with a replacement body, which becomes its stored body. */
class Edit extends Checked {
  constructor(
    readonly target: Target,
    readonly delaySeconds: number,
    readonly kind: EditKind,
    readonly v: number,
  ) {
    super();
  }
  async act(m: LedgerModel, r: Real) {
    const id = targetId(this.target, m);
    const fixed = { tenantId: r.tenant, jobId: this.kind === "other-job" ? "someone-else" : id, v: this.v, fixed: true };
    const replacement =
      this.kind === "text"
        ? { body: btoa(`fixed ${id} by hand`), bodyEncoding: "base64" as const }
        : { body: JSON.stringify(this.kind === "secret" ? { ...fixed, password: "hunter2" } : fixed), bodyEncoding: "json" as const };
    // stored as an ingested body is: a value under a sensitive key redacted (src/ingest/redact.ts)
    const stored = this.kind === "secret" ? JSON.stringify({ ...fixed, password: "[REDACTED]" }) : replacement.body;
    const expected = m.edit(id, this.delaySeconds, { ...replacement, stored, redacted: this.kind === "secret" });
    const actual = await r.stub.requeue(id, "model", this.delaySeconds, replacement);
    expectAnswer(actual, typeof expected === "string" ? expected : detailOf(r.tenant, expected), "edit and requeue's answer");
  }
  toString() {
    return `edit and requeue ${showTarget(this.target)} with a ${this.kind} body v${this.v}${this.delaySeconds ? ` delay ${this.delaySeconds}s` : ""}`;
  }
}

/** The object restarts: memory (and its tuning) gone, storage kept. */
class Restart extends Checked {
  async act(m: LedgerModel, r: Real) {
    const instance = () => runInDurableObject(r.stub, (ledger: FailureLedger) => ledger);
    const before = await instance();
    await abortAllDurableObjects();
    r.stub = ledger(r.tenant);
    await r.stub.tune(tuning(m.now));
    expect(await instance(), "a new instance after the restart").not.toBe(before);
  }
  toString() {
    return "restart the object";
  }
}

const filterArb: fc.Arbitrary<Filter> = fc.oneof(
  fc.record({ class: fc.constantFrom(...CLASSES) }),
  fc.record({ status: fc.constantFrom(...STATUSES) }),
  fc.record({ queue: fc.constantFrom(PLAIN, ORIGIN) }),
  fc.record({ group: fc.constantFrom(...FINGERPRINTS) }),
  fc.record({ class: fc.constantFrom(...CLASSES), status: fc.constantFrom(...STATUSES) }),
  fc.record({ queue: fc.constantFrom(PLAIN, ORIGIN), status: fc.constantFrom(...STATUSES) }),
  fc.constant({}),
);

const anyJob = fc.nat(JOBS - 1);
const heldTarget = fc.nat(3).map((held): Target => ({ held }));
const trimOccurrenceArb: fc.Arbitrary<TrimOccurrence> = fc.record({ o: occurrenceArb, fresh: fc.boolean() });

export const commandArbs: fc.Arbitrary<Command>[] = [
  fc.array(occurrenceArb, { minLength: 1, maxLength: 6 }).map((os) => new RecordBatch(os)),
  fc.array(occurrenceArb, { minLength: 1, maxLength: 3 }).map((os) => new RecordBatch(os)),
  fc
    .tuple(fc.oneof(anyJob.map((job): Target => ({ job })), heldTarget), fc.constantFrom(0, 0, 60))
    .map(([target, delay]) => new Requeue(target, delay)),
  anyJob.map((job) => new Abandon(job)),
  fc.array(anyJob, { minLength: 1, maxLength: 3 }).map((jobs) => new ReportSucceeded(jobs)),
  fc.tuple(fc.constantFrom("requeue" as const, "abandon" as const), filterArb).map(([action, filter]) => new Bulk(action, filter)),
  fc
    .tuple(fc.constantFrom(...FINGERPRINTS, "ffffffffffffffff"), fc.constantFrom<TriageVerb>("resolve", "resolve", "acknowledge", "reopen"))
    .map(([fingerprint, verb]) => new Triage(fingerprint, verb)),
  fc.constant(new Tick()),
  fc.constantFrom(1000, 60_000, 20 * MINUTE, HOUR, 6 * HOUR).map((ms) => new Advance(ms)),
  fc
    .tuple(occurrenceArb, fc.constantFrom(1, 3, 8, 1_000_000), fc.constantFrom(HOUR, 24 * HOUR, 3 * 24 * HOUR, 30 * 24 * HOUR))
    .map(([o, maxRows, maxAgeMs]) => new Retain(o, maxRows, maxAgeMs)),
  fc.constant(new Restart()),
  fc
    .tuple(
      fc.constantFrom(1, 2, 4, 8),
      fc.array(trimOccurrenceArb, { minLength: 1, maxLength: 4 }),
      fc.array(fc.oneof({ weight: 3, arbitrary: fc.array(trimOccurrenceArb, { minLength: 1, maxLength: 4 }).map((record) => ({ record })) }, { weight: 1, arbitrary: fc.constant("flush" as const) }), {
        maxLength: 3,
      }),
    )
    .map(([maxRows, first, rest]) => new TrimInline(maxRows, [{ record: [{ ...first[0]!, fresh: true }, ...first.slice(1)] }, ...rest])),
  fc
    .tuple(fc.oneof({ weight: 1, arbitrary: fc.constantFrom(0, 3).map((job): Target => ({ job })) }, { weight: 3, arbitrary: heldTarget }), fc.constantFrom(0, 0, 60), fc.constantFrom<EditKind>("fixed", "fixed", "secret", "secret", "other-job", "text"), fc.nat(3))
    .map(([job, delay, kind, v]) => new Edit(job, delay, kind, v)),
];

// A ledger's settings, clock and jitter come in through its constructor; only a development
// stack (DEV_ROUTES) may retune a running one. Its alarm runs each kind of due work by its
// handler and leaves a kind it does not know for the code that wrote it.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { armFault, disarmFaults } from "../../src/faults";
import { FailureLedger } from "../../src/failure-ledger";
import { FUTURE, alarmTime, failureInput, ledger, tuneLedger, uniqueTenant } from "../support/failures";

describe("ledger setup", () => {
  it("takes its clock from the constructor", async () => {
    const at = Date.UTC(2030, 0, 1);
    await runInDurableObject(ledger(uniqueTenant()), async (_instance: FailureLedger, state) => {
      const ledgerAt = new FailureLedger(state, env, { clock: () => at });
      const { expiresAt } = await ledgerAt.issueLiveTicket({ tokenId: "tok-1", scope: "read", actor: "tester" });
      expect(expiresAt).toBe(at + 60_000);
    });
  });

  it("refuses to be retuned unless DEV_ROUTES is true", async () => {
    await runInDurableObject(ledger(uniqueTenant()), async (_instance: FailureLedger, state) => {
      const deployed = new FailureLedger(state, { ...env, DEV_ROUTES: "false" });
      await expect(deployed.tune({ now: 0 })).rejects.toThrow(/DEV_ROUTES/);
    });
  });
});

describe("ledger alarm", () => {
  it("runs the due work it knows and postpones a kind it does not, instead of dropping it", async () => {
    const tenant = uniqueTenant();
    const stub = ledger(tenant);
    await tuneLedger(stub, { now: FUTURE, flushDelayMs: 0 });
    await stub.record([failureInput()]);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      state.storage.sql.exec(`INSERT INTO due_work (kind, key, due_at) VALUES ('from-newer-code', 'k', ?)`, FUTURE);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.stats()).outbox.pendingRows).toBe(0);
    const left = await runInDurableObject(stub, (_instance: FailureLedger, state) =>
      state.storage.sql.exec<{ kind: string; due_at: number }>(`SELECT kind, due_at FROM due_work WHERE kind = 'from-newer-code'`).toArray(),
    );
    expect(left).toEqual([{ kind: "from-newer-code", due_at: FUTURE + 60_000 }]);
  });

  it("leaves its safety alarm a minute out when a run throws, instead of ringing again at once", async () => {
    const tenant = uniqueTenant();
    const stub = ledger(tenant);
    await tuneLedger(stub, { now: FUTURE, flushDelayMs: 0 });
    await stub.record([failureInput()]);
    expect(await alarmTime(stub)).toBe(FUTURE);
    armFault("alarm", { key: tenant });
    try {
      await expect(runDurableObjectAlarm(stub)).rejects.toThrow(/injected fault at alarm/);
    } finally {
      disarmFaults();
    }
    expect(await alarmTime(stub)).toBe(FUTURE + 60_000);
    expect((await stub.stats()).outbox.pendingRows).toBe(1);
    await tuneLedger(stub, { now: FUTURE + 60_000 });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.stats()).outbox.pendingRows).toBe(0);
  });
});

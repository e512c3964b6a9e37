import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { QUARANTINE_TENANT } from "../../src/model";
import { afterEach, describe, expect, it } from "vitest";
import { armFault, disarmFaults } from "../../src/faults";
import { parkingKey } from "../../src/ingest/parking";
import { apiFetch } from "../support/api";
import { deliver, message } from "../support/dlq";

afterEach(() => disarmFaults());

describe("parking queue consumer", () => {
  it("archives every parked message to R2 and D1 before acking; an R2 failure is retried and loses nothing", async () => {
    const messages = [message({ tenantId: "t", jobId: "p1" }), message("raw text"), message(new Uint8Array([1, 2, 3]))];
    armFault("parking.put", { key: messages[1]!.id });

    const first = await deliver(messages, "jobs-dlq-parking");
    expect(first.explicitAcks.sort()).toEqual([messages[0]!.id, messages[2]!.id].sort());
    expect(first.retryMessages).toEqual([{ msgId: messages[1]!.id }]);

    const second = await deliver([{ ...messages[1]!, attempts: 2 }], "jobs-dlq-parking");
    expect(second.explicitAcks).toEqual([messages[1]!.id]);
    // A redelivery of an archived message is acked again without a second copy.
    const third = await deliver([{ ...messages[0]!, attempts: 2 }], "jobs-dlq-parking");
    expect(third.explicitAcks).toEqual([messages[0]!.id]);

    const parked = await (await apiFetch("/api/queue/dlq/parking")).json<any>();
    expect(parked.total).toBe(3);
    expect(parked.items.map((i: { messageId: string }) => i.messageId).sort()).toEqual(messages.map((m) => m.id).sort());

    const archived = await env.ARCHIVE.get(parked.items.find((i: { messageId: string }) => i.messageId === messages[2]!.id).archiveKey);
    expect(JSON.parse(await archived!.text())).toMatchObject({ id: messages[2]!.id, queue: "jobs-dlq-parking", bodyEncoding: "base64", body: "AQID" });
    expect(parkingKey({ id: "a/b", timestamp: new Date("2026-01-02T03:04:05Z") } as Message<unknown>)).toBe("_parking/2026/01/02/a%2Fb.json");

    // Ops hear of it: an alert on the quarantine ledger (sent wherever ops alerts are configured).
    const alerted = await runInDurableObject(env.FAILURE_LEDGER.getByName(QUARANTINE_TENANT), (_i, state) =>
      state.storage.sql.exec<{ dedup_key: string; state: string }>(`SELECT dedup_key, state FROM alerts WHERE dedup_key LIKE '%parking%'`).toArray(),
    );
    expect(alerted).toEqual([{ dedup_key: `${QUARANTINE_TENANT}:parking:jobs-dlq-parking`, state: "triggered" }]);
  });

  it("retries every archived message when D1 is down, then lists each once", async () => {
    const messages = [message({ n: 1 }), message({ n: 2 })];
    armFault("parking.d1");
    const first = await deliver(messages, "jobs-dlq-parking");
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages).toHaveLength(2);

    const second = await deliver(messages.map((m) => ({ ...m, attempts: 2 })), "jobs-dlq-parking");
    expect(second.explicitAcks).toHaveLength(2);
    const { n } = (await env.DB.prepare(`SELECT COUNT(*) AS n FROM parked_messages WHERE message_id IN (?, ?)`).bind(messages[0]!.id, messages[1]!.id).first<{ n: number }>())!;
    expect(n).toBe(2);
  });
});

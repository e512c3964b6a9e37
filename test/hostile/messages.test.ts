import { describe, expect, it } from "vitest";
import { QUARANTINE_TENANT } from "../../src/model";
import { deliver, envelope, message } from "../support/dlq";
import { ledger, uniqueTenant } from "../support/failures";

const tenant = uniqueTenant("hostile");
const bytes = (...b: number[]) => new Uint8Array(b);
const nested = (depth: number) => {
  let value: unknown = { end: true };
  for (let i = 0; i < depth; i++) value = { next: value };
  return { tenantId: tenant, jobId: "deep", payload: value };
};
const nestedText = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

/** [what it is, body, where it must end up: its tenant (with jobId) or quarantine]. */
const HOSTILE: [string, unknown, "quarantine" | { jobId: string }][] = [
  ["empty string", "", "quarantine"],
  ["whitespace", "   \n\t", "quarantine"],
  ["the text null", "null", "quarantine"],
  ["truncated JSON", '{"tenantId":"a","jobId":', "quarantine"],
  ["unclosed array", "[1,2", "quarantine"],
  ["NUL bytes in text", "\u0000\u0000", "quarantine"],
  ["a number", 42, "quarantine"],
  ["a negative float", -1.5e308, "quarantine"],
  ["true", true, "quarantine"],
  ["false", false, "quarantine"],
  ["null", null, "quarantine"],
  ["an empty array", [], "quarantine"],
  ["an array of jobs", [{ tenantId: tenant, jobId: "in-array" }], "quarantine"],
  ["an empty object", {}, "quarantine"],
  ["tenantId a number", { tenantId: 5, jobId: "x" }, "quarantine"],
  ["tenantId null", { tenantId: null, jobId: "x" }, "quarantine"],
  ["tenantId an object", { tenantId: { id: "t" }, jobId: "x" }, "quarantine"],
  ["tenantId an array", { tenantId: [tenant], jobId: "x" }, "quarantine"],
  ["tenantId empty", { tenantId: "", jobId: "x" }, "quarantine"],
  ["tenantId too long", { tenantId: "t".repeat(65), jobId: "x" }, "quarantine"],
  ["tenantId path traversal", { tenantId: "../../etc/passwd", jobId: "x" }, "quarantine"],
  ["tenantId with a slash", { tenantId: "acme/evil", jobId: "x" }, "quarantine"],
  ["tenantId with a backslash", { tenantId: "acme\\evil", jobId: "x" }, "quarantine"],
  ["tenantId the reserved quarantine", { tenantId: QUARANTINE_TENANT, jobId: "x" }, "quarantine"],
  ["tenantId starting with _", { tenantId: "_admin", jobId: "x" }, "quarantine"],
  ["tenantId starting with a dot", { tenantId: ".hidden", jobId: "x" }, "quarantine"],
  ["tenantId with a space", { tenantId: "ac me", jobId: "x" }, "quarantine"],
  ["tenantId with NUL", { tenantId: "ac\u0000me", jobId: "x" }, "quarantine"],
  ["tenantId with an emoji", { tenantId: "acme🔥", jobId: "x" }, "quarantine"],
  ["tenantId SQL injection", { tenantId: "x' OR '1'='1", jobId: "x" }, "quarantine"],
  ["only __proto__ carries the tenant", JSON.parse(`{"__proto__":{"tenantId":"${tenant}"},"jobId":"proto"}`), "quarantine"],
  ["constructor.prototype", JSON.parse(`{"constructor":{"prototype":{"tenantId":"${tenant}"}},"jobId":"ctor"}`), "quarantine"],
  ["invalid UTF-8 (0xff)", bytes(0xff, 0xfe, 0xfd), "quarantine"],
  ["invalid UTF-8 (bad continuation)", bytes(0xc3, 0x28), "quarantine"],
  ["invalid UTF-8 (lone surrogate)", bytes(0xed, 0xa0, 0x80), "quarantine"],
  ["invalid UTF-8 (overlong slash)", bytes(0xc0, 0xaf), "quarantine"],
  ["empty bytes", bytes(), "quarantine"],
  ["bytes: JSON without a tenant", new TextEncoder().encode('{"jobId":"b"}'), "quarantine"],
  ["deeply nested text", nestedText(100_000), "quarantine"],
  ["envelope: unknown version", { ...envelope(tenant, "e1"), v: 3 }, "quarantine"],
  ["envelope: version as text", { ...envelope(tenant, "e2"), v: "2" }, "quarantine"],
  ["envelope: negative attempts", { ...envelope(tenant, "e3"), attempts: -1 }, "quarantine"],
  ["envelope: error null", { ...envelope(tenant, "e4"), error: null }, "quarantine"],
  ["envelope: error message too long", { ...envelope(tenant, "e5"), error: { name: "E", message: "m".repeat(20_000) } }, "quarantine"],
  ["envelope: bad timestamp", { ...envelope(tenant, "e6"), enqueuedAt: "yesterday" }, "quarantine"],
  ["envelope: empty queue", { ...envelope(tenant, "e7"), queue: "" }, "quarantine"],
  ["envelope: tenant with path characters", envelope("../x", "e8"), "quarantine"],
  ["envelope: status out of range", { ...envelope(tenant, "e9"), error: { name: "E", message: "m", status: 999 } }, "quarantine"],
  ["envelope: jobId too long", envelope(tenant, "j".repeat(300)), "quarantine"],
  ["raw: a tenant and a polluting __proto__", JSON.parse(`{"tenantId":"${tenant}","jobId":"pp","__proto__":{"polluted":true}}`), { jobId: "pp" }],
  ["raw: SQL injection in jobId", { tenantId: tenant, jobId: "'; DROP TABLE failures; --" }, { jobId: "'; DROP TABLE failures; --" }],
  ["raw: jobId with slashes and dots", { tenantId: tenant, jobId: "../a/b/../c" }, { jobId: "../a/b/../c" }],
  ["raw: jobId with an emoji and RTL marks", { tenantId: tenant, jobId: "job-🔥-\u202e" }, { jobId: "job-🔥-\u202e" }],
  ["raw: 128 KB body", { tenantId: tenant, jobId: "big", data: "x".repeat(127 * 1024) }, { jobId: "big" }],
  ["raw: a huge userId (dropped, kept in the body)", { tenantId: tenant, jobId: "user", userId: "u".repeat(5000) }, { jobId: "user" }],
  ["raw: object nested 1,000 deep", nested(1000), { jobId: "deep" }],
  ["envelope: an extra field", { ...envelope(tenant, "extra"), extra: "ignored" }, { jobId: "extra" }],
  ["envelope: jobId with a lone surrogate", envelope(tenant, "lone-\ud800"), "quarantine"],
];
// A raw body's jobId it cannot keep: the failure is named by its message instead.
HOSTILE.push(["raw: jobId with a lone surrogate", { tenantId: tenant, jobId: "lone-\udc00" }, { jobId: `msg:hostile-${HOSTILE.length}` }]);

describe("hostile queue messages", () => {
  it(`records each of ${HOSTILE.length} hostile messages once, under its tenant or in quarantine, and crashes on none`, async () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(50);
    const quarantine = ledger(QUARANTINE_TENANT);
    const before = await quarantine.stats();
    const messages = HOSTILE.map(([, body], i) => message(body, `hostile-${i}`));

    const result = await deliver(messages);
    expect(result.retryMessages).toEqual([]);
    expect(new Set(result.explicitAcks)).toEqual(new Set(messages.map((m) => m.id)));

    for (const [i, [what, , where]] of HOSTILE.entries()) {
      if (where === "quarantine") {
        const failure = await quarantine.getFailure(`msg:hostile-${i}`);
        expect(failure, what).not.toBeNull();
        expect(failure!.reason, what).toMatch(/^quarantined: /);
      } else {
        expect(await ledger(tenant).getFailure(where.jobId), what).not.toBeNull();
      }
    }
    const quarantined = HOSTILE.filter(([, , where]) => where === "quarantine").length;
    expect((await quarantine.stats()).total - before.total).toBe(quarantined);
    expect((await ledger(tenant).stats()).total).toBe(HOSTILE.length - quarantined);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).tenantId).toBeUndefined();

    // Delivered again, all of them: nothing is counted twice.
    const again = await deliver(messages.map((m) => ({ ...m, attempts: 2 })));
    expect(again.retryMessages).toEqual([]);
    expect((await quarantine.stats()).total - before.total).toBe(quarantined);
    expect((await ledger(tenant).stats()).total).toBe(HOSTILE.length - quarantined);
  });

  it("keeps the raw content of what it quarantines", async () => {
    const q = ledger(QUARANTINE_TENANT);
    const invalid = await q.getFailure(`msg:hostile-${HOSTILE.findIndex(([what]) => what === "invalid UTF-8 (0xff)")}`);
    expect(invalid).toMatchObject({ bodyEncoding: "base64", body: "//79" });
    const truncated = await q.getFailure(`msg:hostile-${HOSTILE.findIndex(([what]) => what === "truncated JSON")}`);
    expect(JSON.parse(truncated!.body)).toBe('{"tenantId":"a","jobId":');
    const deep = await q.getFailure(`msg:hostile-${HOSTILE.findIndex(([what]) => what === "deeply nested text")}`);
    expect(JSON.parse(deep!.body)).toBe(nestedText(100_000));
  });
});

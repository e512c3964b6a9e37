// The chaos run resets ledgers thousands of times (abortAllDurableObjects; the next call constructs
// the class again). The test pool used to wrap the Durable Object wrapper class's prototype in one
// more Proxy per construction (cloudflare/workers-sdk#15092, patched in patches/), so every
// property read walked one get trap per past construction: slower after each reset, then
// "Maximum call stack size exceeded". Without the patch the second test overflows the stack.
import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { createDurableObjectWrapper } from "cloudflare:test-internal";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { FailureLedger } from "../../src/failure-ledger";
import { ledger, uniqueTenant } from "../support/failures";

describe("a ledger constructed many times", () => {
  it("answers after 1,000 resets, the chaos harness's way", { timeout: 300_000 }, async () => {
    const tenant = uniqueTenant();
    for (let i = 0; i < 1_000; i++) {
      await abortAllDurableObjects();
      await ledger(tenant).stats();
    }
    expect((await ledger(tenant).stats()).tenant).toBe(tenant);
  });

  it("reads its properties after 20,000 constructions of the pool's wrapper class", async () => {
    await runInDurableObject(ledger(uniqueTenant()), async (_instance: FailureLedger, state) => {
      // The wrapper the pool exports in place of FailureLedger, constructed as workerd does on every reset.
      const Wrapper = createDurableObjectWrapper("FailureLedger");
      let wrapper: any;
      for (let i = 0; i < 20_000; i++) wrapper = new Wrapper(state, env);
      expect(typeof wrapper.fetch).toBe("function");
      // An RPC method read through the wrapper builds the real ledger and calls it.
      expect(await wrapper.stats()).toMatchObject({ total: 0 });
    });
  });
});

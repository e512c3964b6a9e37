// The test pool's internal module, used only by test/ledger/reconstruct.test.ts.
declare module "cloudflare:test-internal" {
  /** The class the pool exports in place of a Durable Object class, wrapping the real one. */
  export function createDurableObjectWrapper(className: string): new (ctx: DurableObjectState, env: Env) => DurableObject;
}

// FailureLedger, the Durable Object class wrangler.toml binds: the ledger (src/ledger) with the
// sinks it flushes to and delivers through (src/sinks).

import { Ledger } from "./ledger/ledger";
import type { LedgerOptions } from "./ledger/setup";
import { sinksFor } from "./sinks";

export class FailureLedger extends Ledger {
  constructor(ctx: DurableObjectState, env: Env, options: LedgerOptions = {}) {
    super(ctx, env, sinksFor(env), options);
  }
}

import type { SuccessReporter } from "@dlq-ledger/capture";

/** The bindings of wrangler.toml. */
export interface Env {
  JOBS: Queue<unknown>;
  DLQ: Queue<unknown>;
  /** dlq-ledger's DlqLedgerService entrypoint (RPC). */
  DLQ_LEDGER: Fetcher & SuccessReporter;
  DELIVERIES: KVNamespace;
}

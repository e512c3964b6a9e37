import { router } from "./api/router";
import { handleQueue } from "./queues";

export { FailureLedger } from "./ledger/ledger";
export { DlqLedgerService } from "./service";

export default {
  fetch: (request, env, ctx) => router.fetch(request, env, ctx),
  queue: (batch, env, ctx) => handleQueue(batch, env, ctx),
} satisfies ExportedHandler<Env>;

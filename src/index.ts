import { router } from "./api/router";
import { isConsolePath, serveConsole } from "./console/serve";
import { handleQueue } from "./queues";

export { FailureLedger } from "./failure-ledger";
export { DlqLedgerService } from "./service";

export default {
  fetch: (request, env, ctx) => (isConsolePath(new URL(request.url).pathname) ? serveConsole(request, env) : router.fetch(request, env, ctx)),
  queue: (batch, env, ctx) => handleQueue(batch, env, ctx),
} satisfies ExportedHandler<Env>;

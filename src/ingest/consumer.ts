// The dead-letter queue consumer: parse, classify, group the batch by tenant, one ledger RPC per
// tenant, and ack each message only after its tenant's ledger has it durably.

import { readConfig } from "../config";
import { QUARANTINE_TENANT } from "../model";
import { createClassifier, type Classifier, type ClassifierRule } from "./classifier";
import { createRedactor, type Redactor } from "./redact";
import { seal } from "./seal";
import { toFailure, type TenantFailure } from "./to-failure";

const classifiers = new WeakMap<readonly ClassifierRule[], Classifier>();
const redactors = new WeakMap<readonly string[], Redactor>();

function classifierFor(rules: readonly ClassifierRule[]): Classifier {
  let classify = classifiers.get(rules);
  if (!classify) classifiers.set(rules, (classify = createClassifier(rules)));
  return classify;
}

export function redactorFor(keys: readonly string[]): Redactor {
  let redact = redactors.get(keys);
  if (!redact) redactors.set(keys, (redact = createRedactor(keys)));
  return redact;
}

/** Keeps a redacted body's original only sealed, and only when a key is configured. */
async function sealOriginal(item: TenantFailure, key: string | undefined): Promise<void> {
  if (item.unredactedBody !== undefined && key) item.failure.sealedBody = await seal(key, item.unredactedBody);
}

export interface IngestOutcome {
  tenants: number;
  acked: number;
  retried: number;
}

export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<IngestOutcome> {
  const config = readConfig(env);
  const ctx = {
    classify: classifierFor(config.classifierRules),
    rawOriginQueue: config.queues.rawOrigin,
    redact: redactorFor(config.redactKeys),
  };

  const byTenant = new Map<string, { messages: Message<unknown>[]; items: TenantFailure[] }>();
  // Parsed side by side (hashing and sealing are async), grouped in batch order.
  const parsed = await Promise.all(
    batch.messages.map(async (message) => {
      const item = await toFailure(message, batch.queue, ctx);
      await sealOriginal(item, env.RETRY_SEAL_KEY);
      return { message, item };
    }),
  );
  for (const { message, item } of parsed) {
    const group = byTenant.get(item.tenant) ?? { messages: [], items: [] };
    group.messages.push(message);
    group.items.push(item);
    byTenant.set(item.tenant, group);
  }

  const outcome: IngestOutcome = { tenants: byTenant.size, acked: 0, retried: 0 };
  await Promise.all(
    [...byTenant].map(async ([tenant, { messages, items }]) => {
      try {
        await env.FAILURE_LEDGER.getByName(tenant).record(items.map((i) => i.failure));
        for (const m of messages) m.ack();
        outcome.acked += messages.length;
      } catch (error) {
        // Only this tenant's messages go back; the platform parks them after max_retries.
        console.error(`ledger ${tenant === QUARANTINE_TENANT ? "(quarantine)" : tenant} refused ${messages.length} failure(s)`, error);
        for (const m of messages) m.retry({ delaySeconds: config.ingestRetryDelaySeconds });
        outcome.retried += messages.length;
      }
    }),
  );
  return outcome;
}

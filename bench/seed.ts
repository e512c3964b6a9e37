// The seed's design (/work/shared/seed), rebuilt as the cost baseline: a DLQ consumer that, for
// every message, one after the other, writes the failure to R2, to the indexed D1 tables of
// migrations/0001 (frozen in bench/seed-schema/), and one Analytics Engine data point, then acks
// it (max_retries = 0). It classifies with the same rule table as ours, so both designs route the
// same failures the same way.

import { FailureEnvelopeV1 } from "../src/envelope";
import { createClassifier } from "../src/ingest/classifier";

export interface SeedEnv {
  DB: D1Database;
  ARCHIVE: R2Bucket;
  EVENTS: AnalyticsEngineDataset;
}

const classify = createClassifier();

export async function seedConsume(batch: MessageBatch<unknown>, env: SeedEnv): Promise<void> {
  for (const message of batch.messages) {
    await handleFailedJob(message, env);
    message.ack();
  }
}

async function handleFailedJob(message: Message<unknown>, env: SeedEnv): Promise<void> {
  const e = FailureEnvelopeV1.parse(message.body);
  const { class: cls, reason } = classify(e.error);
  const now = Date.parse(e.lastFailedAt);

  // "Complete audit trail in R2": one object per failed message.
  const key = `dlq/${e.tenantId}/${e.lastFailedAt.slice(0, 10)}/${e.jobId}/${message.id}.json`;
  const record = JSON.stringify({ ...e, class: cls, reason, messageId: message.id, recordedAt: now });
  await env.ARCHIVE.put(key, record, { httpMetadata: { contentType: "application/json" } });

  // "Database tracking of all failures", then the class's route: recovery queue or user notice.
  const statements = [
    env.DB.prepare(
      `INSERT INTO failures (tenant_id, job_id, user_id, queue, class, reason, status, attempts, occurrences, group_fp,
         error_name, error_message, error_status, error_code, first_failed_at, last_failed_at,
         archive_key, archive_offset, archive_length, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'open', ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
       ON CONFLICT (tenant_id, job_id) DO UPDATE SET
         occurrences = occurrences + 1, attempts = attempts + excluded.attempts, class = excluded.class,
         reason = excluded.reason, error_name = excluded.error_name, error_message = excluded.error_message,
         error_status = excluded.error_status, error_code = excluded.error_code,
         last_failed_at = excluded.last_failed_at, archive_key = excluded.archive_key,
         archive_length = excluded.archive_length, updated_at = excluded.updated_at`,
    ).bind(
      e.tenantId,
      e.jobId,
      e.userId ?? null,
      e.queue,
      cls,
      reason,
      e.attempts,
      e.error.name,
      e.error.name,
      e.error.message,
      e.error.status ?? null,
      e.error.code ?? null,
      Date.parse(e.firstFailedAt),
      now,
      key,
      record.length,
      now,
    ),
  ];
  if (cls === "RECOVERABLE") {
    statements.push(
      env.DB.prepare(
        `INSERT INTO dlq_recovery_queue (tenant_id, job_id, queue, class, status, reason, enqueued_at, updated_at)
         VALUES (?, ?, ?, ?, 'open', ?, ?, ?)
         ON CONFLICT (tenant_id, job_id) DO UPDATE SET status = 'open', reason = excluded.reason, updated_at = excluded.updated_at`,
      ).bind(e.tenantId, e.jobId, e.queue, cls, reason, now, now),
    );
  }
  if (cls === "USER_ERROR" && e.userId) {
    statements.push(
      env.DB.prepare(
        `INSERT INTO user_notifications (tenant_id, id, user_id, kind, job_id, title, body, created_at)
         VALUES (?, ?, ?, 'failure', ?, ?, ?, ?)`,
      ).bind(e.tenantId, `${e.jobId}:${message.id}`, e.userId, e.jobId, `Job ${e.jobId} failed`, `Your job ${e.jobId} failed: ${e.error.message}`, now),
    );
  }
  await env.DB.batch(statements);

  env.EVENTS.writeDataPoint({
    indexes: [e.tenantId],
    blobs: [e.tenantId, cls, e.queue, e.error.name, e.jobId],
    doubles: [e.attempts, 1],
  });
}

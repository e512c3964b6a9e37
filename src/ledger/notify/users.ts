// Telling users their job failed: once per job, at most `limit` notices per user per window (a
// token bucket), the rest folded into one digest when the window ends. Notices land in the D1
// inbox through the outbox, and go to the user webhook when one is configured.

import type { FailureInput, UserNotice } from "../../model";
import type { Change } from "../change";
import { counterKey } from "../aggregates/counters";
import { isScheduled, scheduleAt, unschedule } from "../scheduler";
import { enqueueDelivery } from "./delivery-queue";

const DIGEST_SAMPLE = 20;

/** To the user's D1 inbox with the change's outbox row, and to the user webhook when one is set. */
function publish(c: Change, notice: UserNotice): UserNotice {
  if (c.settings.notify.userWebhookUrl) enqueueDelivery(c.sql, `user_webhook:${notice.id}`, "user_webhook", notice, c.now);
  c.notice(notice);
  return notice;
}

/** A USER_ERROR failure's one notice, or null when the user's bucket is empty (it joins the digest). */
export function noticeForFailure(c: Change, f: FailureInput & { userId: string }): UserNotice | null {
  const bucket = c.buckets.read(f.userId, c.now, c.settings.notify);
  if (bucket.tokens < 1) {
    const sample = JSON.parse(bucket.suppressed_jobs) as string[];
    c.buckets.write(f.userId, {
      ...bucket,
      suppressed: bucket.suppressed + 1,
      suppressed_jobs: JSON.stringify(sample.length < DIGEST_SAMPLE ? [...sample, f.jobId] : sample),
    });
    if (!isScheduled(c.sql, "digest", f.userId)) scheduleAt(c.sql, "digest", f.userId, c.now + c.settings.notify.userWindowMs);
    c.deltas.add(counterKey.noticesSuppressed, 1);
    return null;
  }
  c.buckets.write(f.userId, { ...bucket, tokens: bucket.tokens - 1 });
  c.deltas.add(counterKey.noticesSent, 1);
  const where = f.error ? `: ${f.error.message}` : "";
  return publish(c, {
    id: `n:${f.jobId}`,
    kind: "failure",
    tenantId: c.tenant,
    userId: f.userId,
    jobId: f.jobId,
    title: `Job ${f.jobId} failed`,
    body: `Your job ${f.jobId} on ${f.queue} failed and was not completed${where}`.slice(0, 2000),
    createdAt: c.now,
  });
}

/** The end of a user's window: everything suppressed in it, as one notice. */
export function digestFor(c: Change, userId: string): UserNotice | null {
  unschedule(c.sql, "digest", userId);
  const bucket = c.buckets.read(userId, c.now, c.settings.notify);
  if (bucket.suppressed === 0) return null;
  const sample = JSON.parse(bucket.suppressed_jobs) as string[];
  c.buckets.write(userId, { ...bucket, suppressed: 0, suppressed_jobs: "[]" });
  c.deltas.add(counterKey.digests, 1);
  const more = bucket.suppressed > sample.length ? `, and ${bucket.suppressed - sample.length} more` : "";
  return publish(c, {
    id: `d:${userId}:${c.now}`,
    kind: "digest",
    tenantId: c.tenant,
    userId,
    jobId: null,
    title: `${bucket.suppressed} more jobs failed`,
    body: `${bucket.suppressed} more jobs failed: ${sample.join(", ")}${more}`.slice(0, 2000),
    createdAt: c.now,
  });
}

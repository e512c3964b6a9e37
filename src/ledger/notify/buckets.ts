// The users' notice buckets (a token bucket per user, notify/users.ts spends them): the ones a
// change touches are read on first use and written once at its commit, one row per user however
// many of their jobs failed in it.

import type { NotifyConfig } from "../../config";
import { run, sql } from "../../sql";

export type Bucket = { tokens: number; refilled_at: number; suppressed: number; suppressed_jobs: string };

export class NoticeBuckets {
  private readonly touched = new Map<string, Bucket>();

  constructor(private readonly storage: SqlStorage) {}

  /** The user's bucket as of `now`, refilled for the time since it was last written. */
  read(userId: string, now: number, notify: Pick<NotifyConfig, "userLimit" | "userWindowMs">): Bucket {
    const touched = this.touched.get(userId);
    if (touched) return touched;
    const row = run<Bucket>(this.storage, sql`SELECT tokens, refilled_at, suppressed, suppressed_jobs FROM user_buckets WHERE user_id = ${userId}`).toArray()[0];
    const limit = notify.userLimit;
    if (!row) return { tokens: limit, refilled_at: now, suppressed: 0, suppressed_jobs: "[]" };
    const refill = ((now - row.refilled_at) * limit) / notify.userWindowMs;
    return { ...row, tokens: Math.min(limit, row.tokens + Math.max(0, refill)), refilled_at: now };
  }

  write(userId: string, b: Bucket): void {
    this.touched.set(userId, b);
  }

  save(): void {
    for (const [userId, b] of this.touched) {
      run(
        this.storage,
        sql`INSERT INTO user_buckets (user_id, tokens, refilled_at, suppressed, suppressed_jobs)
          VALUES (${userId}, ${b.tokens}, ${b.refilled_at}, ${b.suppressed}, ${b.suppressed_jobs})
          ON CONFLICT (user_id) DO UPDATE SET tokens = excluded.tokens, refilled_at = excluded.refilled_at,
            suppressed = excluded.suppressed, suppressed_jobs = excluded.suppressed_jobs`,
      );
    }
    this.touched.clear();
  }
}

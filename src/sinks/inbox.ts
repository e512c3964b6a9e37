// The users' inbox in D1 (user_notifications): read newest first, marked read by id.

import { prepare, sql, type Sql } from "../sql";

export interface InboxNotice {
  id: string;
  userId: string;
  kind: "failure" | "digest";
  jobId: string | null;
  title: string;
  body: string;
  createdAt: string;
  readAt: string | null;
}

type InboxRow = {
  id: string;
  user_id: string;
  kind: "failure" | "digest";
  job_id: string | null;
  title: string;
  body: string;
  created_at: number;
  read_at: number | null;
};

export interface InboxCursor {
  createdAt: number;
  id: string;
}

export async function listInbox(
  db: D1Database,
  tenant: string,
  query: { userId: string; unread: boolean; limit: number; after?: InboxCursor },
): Promise<{ items: InboxNotice[]; next: InboxCursor | null; unread: number }> {
  const where: Sql[] = [sql`tenant_id = ${tenant}`, sql`user_id = ${query.userId}`];
  if (query.unread) where.push(sql`read_at IS NULL`);
  if (query.after) where.push(sql`(created_at, id) < (${query.after.createdAt}, ${query.after.id})`);
  const [page, unread] = await db.batch<InboxRow | { n: number }>([
    prepare(db, sql`SELECT * FROM user_notifications WHERE ${sql.join(where, " AND ")} ORDER BY created_at DESC, id DESC LIMIT ${query.limit + 1}`),
    prepare(db, sql`SELECT COUNT(*) AS n FROM user_notifications WHERE tenant_id = ${tenant} AND user_id = ${query.userId} AND read_at IS NULL`),
  ]);
  const rows = (page?.results ?? []) as InboxRow[];
  const items = rows.slice(0, query.limit);
  const last = items[items.length - 1];
  return {
    items: items.map((r) => ({
      id: r.id,
      userId: r.user_id,
      kind: r.kind,
      jobId: r.job_id,
      title: r.title,
      body: r.body,
      createdAt: new Date(r.created_at).toISOString(),
      readAt: r.read_at === null ? null : new Date(r.read_at).toISOString(),
    })),
    next: rows.length > query.limit && last ? { createdAt: last.created_at, id: last.id } : null,
    unread: ((unread?.results[0] as { n: number } | undefined)?.n ?? 0),
  };
}

/**
 * Marks the user's notices read; returns how many changed (already read or unknown ids count 0).
 * One statement: the API takes at most 50 ids, well within the parameter bound.
 */
export async function markInboxRead(db: D1Database, tenant: string, userId: string, ids: readonly string[], now: number): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await prepare(
    db,
    sql`UPDATE user_notifications SET read_at = ${now} WHERE tenant_id = ${tenant} AND user_id = ${userId} AND read_at IS NULL AND id IN ${sql.list(ids)}`,
  ).run();
  return result.meta.changes ?? 0;
}

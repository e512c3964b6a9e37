// The users' inbox: notices of their failed jobs (and digests), served from D1.

import { z } from "zod";
import { listInbox, markInboxRead } from "../../sinks/inbox";
import { shardIfAssigned } from "../../sinks/shards";
import { Cursor, encodeCursor } from "../cursor";
import { defineRoute } from "../route";
import { TenantParam } from "../tenant";

const UserId = z.string().min(1).max(256);

export const NotificationsQuery = z
  .object({
    tenant: TenantParam.optional(),
    userId: UserId,
    unread: z.enum(["true", "false"]).default("false").transform((v) => v === "true").meta({ description: "only notices not yet read" }),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: Cursor.optional(),
  })
  .strict();

const Notice = z.object({
  id: z.string(),
  userId: z.string(),
  kind: z.enum(["failure", "digest"]),
  jobId: z.string().nullable(),
  title: z.string(),
  body: z.string(),
  createdAt: z.string(),
  readAt: z.string().nullable(),
});

const NoticePage = z.object({ items: z.array(Notice), nextCursor: z.string().nullable(), unread: z.number().int() });

export const MarkReadRequest = z.object({ userId: UserId, ids: z.array(z.string().min(1).max(512)).min(1).max(50) }).strict();

export const listNotifications = defineRoute({
  method: "GET",
  path: "/api/notifications",
  tag: "notifications",
  summary: "A user's notices, newest first (USER_ERROR failures told once per job, and digests)",
  description: "Notices reach this inbox when the ledger's outbox flushes (seconds after the failure).",
  access: "tenant:read",
  query: NotificationsQuery,
  responses: { 200: { description: "A page of notices, with the user's unread count", schema: NoticePage } },
  async handler({ env, query, tenant }) {
    const { id } = tenant();
    const db = await shardIfAssigned(env, id);
    // A tenant that never flushed has no database yet, and so no notices.
    const page = db
      ? await listInbox(db, id, {
          userId: query.userId,
          unread: query.unread,
          limit: query.limit,
          after: query.cursor && { createdAt: query.cursor.at, id: query.cursor.id },
        })
      : { items: [], next: null, unread: 0 };
    return { items: page.items, nextCursor: page.next ? encodeCursor({ at: page.next.createdAt, id: page.next.id }) : null, unread: page.unread };
  },
});

export const markNotificationsRead = defineRoute({
  method: "POST",
  path: "/api/notifications/read",
  tag: "notifications",
  summary: "Mark a user's notices read",
  access: "tenant:operate",
  query: z.object({ tenant: TenantParam.optional() }).strict(),
  body: { schema: MarkReadRequest },
  responses: { 200: { description: "How many notices were newly marked read", schema: z.object({ marked: z.number().int() }) } },
  async handler({ env, body, tenant }) {
    const { id } = tenant();
    const db = await shardIfAssigned(env, id);
    return { marked: db ? await markInboxRead(db, id, body.userId, body.ids, Date.now()) : 0 };
  },
});

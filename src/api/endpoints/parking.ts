import { z } from "zod";
import { defineRoute } from "../route";
import { Parked } from "../../contract/schemas";
import { prepare, sql } from "../../sql";

export const ParkingQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }).strict();

type ParkedRow = { message_id: string; queue: string; archive_key: string; bytes: number; attempts: number; parked_at: number };

/** What reached the parking queue: how many, and the most recent, with their R2 keys. */
export const listParked = defineRoute({
  method: "GET",
  path: "/api/queue/dlq/parking",
  tag: "operations",
  summary: "Messages the DLQ consumer itself could not handle (parked raw in R2)",
  description: "Parked messages belong to no tenant yet, so only the admin token sees them.",
  access: "admin",
  query: ParkingQuery,
  responses: { 200: { description: "How many are parked, and the most recent", schema: Parked } },
  async handler({ env, query }) {
    const [count, items] = await env.DB.batch<Record<string, unknown>>([
      prepare(env.DB, sql`SELECT COUNT(*) AS n FROM parked_messages`),
      prepare(env.DB, sql`SELECT * FROM parked_messages ORDER BY parked_at DESC, message_id LIMIT ${query.limit}`),
    ]);
    return {
      total: Number(count?.results[0]?.n ?? 0),
      items: ((items?.results ?? []) as ParkedRow[]).map((row) => ({
        messageId: row.message_id,
        queue: row.queue,
        archiveKey: row.archive_key,
        bytes: row.bytes,
        attempts: row.attempts,
        parkedAt: new Date(row.parked_at).toISOString(),
      })),
    };
  },
});

import type { IRequest } from "itty-router";
import { z } from "zod";
import { parseQuery } from "../validate";

export const ParkingQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }).strict();

/** What reached the parking queue: how many, and the most recent, with their R2 keys. */
export async function listParked(request: IRequest, env: Env) {
  const { limit } = parseQuery(request, ParkingQuery);
  const [count, items] = await env.DB.batch<{ n?: number; message_id?: string }>([
    env.DB.prepare(`SELECT COUNT(*) AS n FROM parked_messages`),
    env.DB.prepare(`SELECT * FROM parked_messages ORDER BY parked_at DESC, message_id LIMIT ?`).bind(limit),
  ]);
  return {
    total: count?.results[0]?.n ?? 0,
    items: (items?.results ?? []).map((row: any) => ({
      messageId: row.message_id,
      queue: row.queue,
      archiveKey: row.archive_key,
      bytes: row.bytes,
      attempts: row.attempts,
      parkedAt: new Date(row.parked_at).toISOString(),
    })),
  };
}

import type { IRequest } from "itty-router";
import { z } from "zod";
import { FAILURE_CLASSES, FAILURE_STATUSES } from "../../model";
import type { PageCursor } from "../../ledger/queries";
import { notFound } from "../errors";
import { TenantParam, ledgerFor, tenantOf } from "../tenant";
import { parseQuery, pathParam } from "../validate";
import { JobId } from "../../capture/envelope";
import { readArchivedLine } from "../../sinks/archive";
import { archivedFailure } from "../../sinks/d1";

/** Opaque to clients: base64url of [lastFailedAt, jobId]. */
const Cursor = z
  .string()
  .max(1024)
  .transform((text, ctx): PageCursor => {
    try {
      const [lastFailedAt, jobId] = JSON.parse(atob(text.replaceAll("-", "+").replaceAll("_", "/"))) as unknown[];
      if (typeof lastFailedAt === "number" && Number.isSafeInteger(lastFailedAt) && typeof jobId === "string") {
        return { lastFailedAt, jobId };
      }
    } catch {
      // fall through to the issue below
    }
    ctx.addIssue({ code: "custom", message: "cursor is not one this API returned" });
    return z.NEVER;
  });

export function encodeCursor(cursor: PageCursor): string {
  return btoa(JSON.stringify([cursor.lastFailedAt, cursor.jobId])).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export const FailuresQuery = z
  .object({
    tenant: TenantParam,
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: Cursor.optional(),
    class: z.enum(FAILURE_CLASSES).optional(),
    queue: z.string().min(1).max(128).optional(),
    status: z.enum(FAILURE_STATUSES).optional(),
    group: z.string().regex(/^[0-9a-f]{16}$/, "group must be a 16-hex-digit fingerprint").optional(),
  })
  .strict();

export const FailureQuery = z.object({ tenant: TenantParam }).strict();

export async function listFailures(request: IRequest, env: Env) {
  const query = parseQuery(request, FailuresQuery);
  const { tenant: _, cursor, ...filters } = query;
  const page = await ledgerFor(env, tenantOf(request, query)).listFailures({ ...filters, after: cursor });
  return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
}

/**
 * One failure: live from the ledger while it is in the hot window, and with its archived
 * envelope read back from R2 by range once the outbox has flushed it. After the ledger evicted
 * it, D1 and R2 still answer.
 */
export async function getFailure(request: IRequest, env: Env) {
  const tenant = tenantOf(request, parseQuery(request, FailureQuery));
  const jobId = JobId.parse(pathParam(request, "jobId"));
  const [live, record] = await Promise.all([ledgerFor(env, tenant).getFailure(jobId), archivedFailure(env.DB, tenant, jobId)]);
  const envelope = record?.archive ? await readArchivedLine(env.ARCHIVE, record.archive.key, record.archive.offset, record.archive.length) : null;
  const archive = record?.archive ? { ...record.archive, envelope } : null;
  if (live) {
    const body = live.bodyEncoding === "json" ? (JSON.parse(live.body) as unknown) : live.body;
    return { ...live, body, source: "ledger", archive };
  }
  if (record) {
    const { archive: _, ...summary } = record;
    return { ...summary, body: envelope?.body ?? null, bodyEncoding: envelope?.bodyEncoding ?? null, source: "archive", archive };
  }
  throw notFound(`no failure with jobId ${JSON.stringify(jobId)} in this tenant`);
}

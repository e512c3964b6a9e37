// One error shape for every 4xx/5xx: { error: { code, message, details? } }. The API answers
// with it and so does the ledger's live socket before it upgrades.

import { z } from "zod";

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ description: "Stable, machine-readable: invalid_request, unauthorized, not_found, rate_limited …" }),
      message: z.string().meta({ description: "What went wrong and, where it helps, what to do." }),
      details: z.unknown().optional().meta({ description: "For invalid_request: one { path, message } per problem." }),
    }),
  })
  .meta({ description: "The one error shape of every 4xx and 5xx response." });

export function errorResponse(status: number, code: string, message: string, details?: unknown, headers?: HeadersInit): Response {
  return Response.json({ error: { code, message, ...(details === undefined ? {} : { details }) } }, { status, headers });
}

// One error shape for every 4xx and 5xx: { error: { code, message, details? } }.

import { z } from "zod";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const notFound = (message: string) => new ApiError(404, "not_found", message);

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

export function toErrorResponse(error: unknown): Response {
  if (error instanceof ApiError) return errorResponse(error.status, error.code, error.message, error.details, error.headers);
  if (error instanceof z.ZodError) {
    return errorResponse(
      400,
      "invalid_request",
      error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; "),
      error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    );
  }
  // Never echo an unexpected error: it may carry internals. The log has it.
  console.error("unhandled error in API", error);
  return errorResponse(500, "internal_error", "Something went wrong on our side; it has been logged.");
}

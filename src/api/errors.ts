// Errors the API throws, answered in the one error shape (src/contract/errors.ts).

import { z } from "zod";
import { errorResponse } from "../contract/errors";

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

// One error shape for every 4xx and 5xx: { error: { code, message, details? } }.

import { z } from "zod";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const notFound = (message: string) => new ApiError(404, "not_found", message);

export function errorResponse(status: number, code: string, message: string, details?: unknown, headers?: HeadersInit): Response {
  return Response.json({ error: { code, message, ...(details === undefined ? {} : { details }) } }, { status, headers });
}

export function toErrorResponse(error: unknown): Response {
  if (error instanceof ApiError) return errorResponse(error.status, error.code, error.message, error.details);
  if (error instanceof z.ZodError) {
    return errorResponse(
      400,
      "invalid_request",
      error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; "),
      error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    );
  }
  console.error("unhandled error in API", error);
  return errorResponse(500, "internal_error", "Something went wrong on our side; it has been logged.");
}

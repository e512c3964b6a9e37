// Parse at the edge: request parts are validated here and handed inward as typed values.

import type { IRequest } from "itty-router";
import { z } from "zod";
import { decodeUtf8 } from "../bytes";
import { ApiError } from "./errors";

/** A group named in a request (?group=): its fingerprint. */
export const Fingerprint = z.string().regex(/^[0-9a-f]{16}$/, "group must be a 16-hex-digit fingerprint");

export function parseQuery<S extends z.ZodType>(request: IRequest, schema: S): z.output<S> {
  return schema.parse({ ...request.query });
}

export function pathParam(request: IRequest, name: string): string {
  const raw = request.params[name];
  if (raw === undefined) throw new ApiError(400, "invalid_request", `missing path parameter ${name}`);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError(400, "invalid_request", `path parameter ${name} is not valid percent-encoding`);
  }
}

/**
 * Reads a body of at most `maxBytes`; anything else is a 4xx, never a crash. A body without a
 * Content-Length is read only up to the limit, so a huge stream is cut off, not buffered.
 */
export async function readBodyBytes(request: Request, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () => new ApiError(413, "payload_too_large", `request body must be at most ${maxBytes} bytes`);
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

export async function readJson<S extends z.ZodType>(
  request: Request,
  schema: S,
  options: { maxBytes?: number; optional?: boolean } = {},
): Promise<z.output<S>> {
  const bytes = await readBodyBytes(request, options.maxBytes ?? 64 * 1024);
  if (options.optional && bytes.byteLength === 0) return schema.parse(undefined);
  const text = decodeUtf8(bytes);
  let value: unknown;
  try {
    if (text === null) throw new Error("not UTF-8");
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, "invalid_json", "request body must be valid UTF-8 JSON");
  }
  return schema.parse(value);
}

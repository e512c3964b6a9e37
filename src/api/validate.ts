// Parse at the edge: request parts are validated here and handed inward as typed values.

import type { IRequest } from "itty-router";
import { z } from "zod";
import { decodeUtf8 } from "../bytes";
import { ApiError } from "./errors";

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

/** Reads a JSON body of at most `maxBytes`; anything else is a 4xx, never a crash. */
export async function readBodyBytes(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw new ApiError(413, "payload_too_large", `request body must be at most ${maxBytes} bytes`);
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > maxBytes) throw new ApiError(413, "payload_too_large", `request body must be at most ${maxBytes} bytes`);
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

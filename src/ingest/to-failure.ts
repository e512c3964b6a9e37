// Turns one dead-letter message into a classified failure for one tenant. Every message yields
// a failure: an enriched envelope, a raw body the platform dead-lettered, or a quarantined one.

import { FailureEnvelope, JobId, TenantId, firstFailedAt, looksLikeEnvelope } from "../envelope";
import { asBytes, decodeUtf8, isBytes, toBase64 } from "../bytes";
import { QUARANTINE_TENANT, type FailureInput } from "../model";
import type { Classifier } from "./classifier";
import type { Redactor } from "./redact";
import { fingerprint } from "./fingerprint";

export interface TenantFailure {
  tenant: string;
  failure: FailureInput;
  /** When redaction changed the body: the original, for the consumer to seal. Never stored as is. */
  unredactedBody?: string;
}

/** A body as stored (redacted), and the original when redaction changed it. */
export type EncodedBody = Pick<FailureInput, "body" | "bodyEncoding" | "bodyRedacted"> & { unredactedBody?: string };

export interface IngestContext {
  classify: Classifier;
  /** The queue a raw (envelope-less) body is attributed to: the platform does not say. */
  rawOriginQueue: string;
  redact: Redactor;
}

/** A body as read: a value (with the text or bytes it was parsed from, if any), or bytes that are not JSON. */
export type Decoded = { kind: "value"; value: unknown; source?: string | Uint8Array } | { kind: "bytes"; bytes: Uint8Array };

export async function toFailure(message: Message<unknown>, dlqName: string, ctx: IngestContext): Promise<TenantFailure> {
  const decoded = decode(message.body);
  const value = decoded.kind === "value" ? decoded.value : undefined;

  if (looksLikeEnvelope(value)) {
    const parsed = FailureEnvelope.safeParse(value);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "envelope"}: ${i.message}`).join("; ");
      return quarantine(message, dlqName, decoded, `malformed envelope (${issues.slice(0, 500)})`, ctx.redact);
    }
    const e = parsed.data;
    const { class: cls, reason } = ctx.classify(e.error);
    const { unredactedBody, ...body } = encodeBody({ kind: "value", value: e.body }, ctx.redact);
    return {
      tenant: e.tenantId,
      unredactedBody,
      failure: {
        jobId: e.jobId,
        occurrenceKey: `e:${e.lastFailedAt}:${e.attempts}`,
        userId: e.userId,
        queue: e.queue,
        class: cls,
        reason,
        fingerprint: await fingerprint(e.error.name, e.error.message, e.queue),
        error: {
          ...e.error,
          message: ctx.redact.text(e.error.message),
          ...(e.error.stack === undefined ? {} : { stack: ctx.redact.text(e.error.stack) }),
        },
        ...body,
        attempts: e.attempts,
        firstFailedAt: firstFailedAt(e),
        lastFailedAt: Date.parse(e.lastFailedAt),
      },
    };
  }

  if (!isRecord(value)) {
    return quarantine(message, dlqName, decoded, decoded.kind === "bytes" ? "body is not JSON" : "body is not a JSON object", ctx.redact);
  }
  const tenant = TenantId.safeParse(value.tenantId);
  if (!tenant.success) {
    return quarantine(message, dlqName, decoded, value.tenantId === undefined ? "no tenantId" : "invalid tenantId", ctx.redact);
  }
  const rawJobId = value.jobId ?? value.id;
  const jobId = JobId.safeParse(typeof rawJobId === "number" ? String(rawJobId) : rawJobId);
  const userId = typeof value.userId === "string" && value.userId.length <= 256 ? value.userId : undefined;
  const at = message.timestamp.getTime();
  const { unredactedBody, ...body } = encodeBody(decoded, ctx.redact);
  return {
    tenant: tenant.data,
    unredactedBody,
    failure: {
      jobId: jobId.success ? jobId.data : `msg:${message.id}`,
      occurrenceKey: `m:${message.id}`,
      userId,
      queue: ctx.rawOriginQueue,
      class: "UNKNOWN",
      reason: "no error context",
      fingerprint: await fingerprint("NoErrorContext", "", ctx.rawOriginQueue),
      error: null,
      ...body,
      attempts: 0,
      firstFailedAt: at,
      lastFailedAt: at,
    },
  };
}

async function quarantine(
  message: Message<unknown>,
  dlqName: string,
  decoded: Decoded,
  why: string,
  redact: Redactor,
): Promise<TenantFailure> {
  const at = message.timestamp.getTime();
  return {
    tenant: QUARANTINE_TENANT,
    failure: {
      jobId: `msg:${message.id}`,
      occurrenceKey: `m:${message.id}`,
      queue: dlqName,
      class: "UNKNOWN",
      reason: `quarantined: ${why}`,
      fingerprint: await fingerprint("Quarantined", why.split(" (")[0] ?? why, dlqName),
      error: null,
      ...rawBody(decoded, redact),
      attempts: 0,
      firstFailedAt: at,
      lastFailedAt: at,
    },
  };
}

/** Strings holding JSON are read as JSON; bytes too when they are valid UTF-8 JSON. */
function decode(body: unknown): Decoded {
  if (isBytes(body)) {
    const bytes = asBytes(body);
    const text = decodeUtf8(bytes);
    if (text !== null) {
      try {
        return { kind: "value", value: JSON.parse(text), source: bytes };
      } catch {
        // valid text but not JSON: kept as the exact bytes
      }
    }
    return { kind: "bytes", bytes };
  }
  if (typeof body === "string") {
    try {
      return { kind: "value", value: JSON.parse(body), source: body };
    } catch {
      return { kind: "value", value: body };
    }
  }
  return { kind: "value", value: body };
}

/** A quarantined body is kept as it came (text or bytes, redacted), not as re-serialised JSON. */
function rawBody(decoded: Decoded, redact: Redactor): Pick<FailureInput, "body" | "bodyEncoding"> {
  if (decoded.kind === "value" && decoded.source instanceof Uint8Array) return { body: toBase64(redact.bytes(decoded.source)), bodyEncoding: "base64" };
  if (decoded.kind === "value" && typeof decoded.source === "string") return { body: JSON.stringify(redact.text(decoded.source)), bodyEncoding: "json" };
  const { body, bodyEncoding } = encodeBody(decoded, redact);
  return { body, bodyEncoding };
}

/**
 * The body as stored: redacted. When redaction changed it, `bodyRedacted` is set and the
 * original encoding comes back as `unredactedBody`, for the caller to seal (never stored as is).
 */
export function encodeBody(decoded: Decoded, redact: Redactor): EncodedBody {
  const stored = (body: string, original: string, bodyEncoding: "json" | "base64") =>
    body === original ? { body, bodyEncoding } : { body, bodyEncoding, bodyRedacted: true, unredactedBody: original };
  if (decoded.kind === "bytes") return stored(toBase64(redact.bytes(decoded.bytes)), toBase64(decoded.bytes), "base64");
  try {
    const redacted = redact.value(decoded.value);
    const original = JSON.stringify(decoded.value);
    const json = redacted === decoded.value ? original : JSON.stringify(redacted);
    if (json !== undefined && original !== undefined) return stored(json, original, "json");
  } catch {
    // cycles, BigInt or nesting too deep to serialise: keep a readable form instead of nothing
  }
  return { body: JSON.stringify(redact.text(String(decoded.value))), bodyEncoding: "json", bodyRedacted: true };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

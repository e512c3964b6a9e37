// Edit and requeue: a person replaces a job's body (a USER_ERROR fixed by hand) and sends it back.
// The replacement is sent exactly as given; the ledger stores it through the same redaction as
// an ingested body (the original sealed with RETRY_SEAL_KEY when redaction changed it, so later
// retries send it unchanged). The archive in R2 keeps the original occurrence untouched.

import { readConfig } from "../../config";
import { redactorFor } from "../../ingest/consumer";
import { seal, unseal } from "../../ingest/seal";
import { encodeBody } from "../../ingest/to-failure";
import type { RecoveryView, StoredBody } from "../store";

/** A replacement as it is sent: JSON text, or base64 of raw bytes (a text body as UTF-8). */
export interface Replacement {
  body: string;
  bodyEncoding: "json" | "base64";
}

export interface PreparedReplacement {
  send: Replacement;
  stored: StoredBody;
  sha256: string;
}

const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const bytesOf = (body: string, encoding: "json" | "base64") => (encoding === "json" ? new TextEncoder().encode(body) : fromBase64(body));

/** SHA-256 (hex) of a body's bytes as sent to its queue: JSON text as UTF-8, raw bytes as they are. */
export async function bodySha256(body: string, encoding: "json" | "base64"): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytesOf(body, encoding)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function prepareReplacement(env: Env, replacement: Replacement): Promise<PreparedReplacement> {
  const redact = redactorFor(readConfig(env).redactKeys);
  const decoded =
    replacement.bodyEncoding === "json"
      ? ({ kind: "value", value: JSON.parse(replacement.body) as unknown } as const)
      : ({ kind: "bytes", bytes: fromBase64(replacement.body) } as const);
  const encoded = encodeBody(decoded, redact);
  const sealedBody = encoded.bodyRedacted && env.RETRY_SEAL_KEY ? await seal(env.RETRY_SEAL_KEY, replacement.body) : null;
  return {
    send: replacement,
    stored: { body: encoded.body, bodyEncoding: encoded.bodyEncoding, bodyRedacted: encoded.bodyRedacted === true, sealedBody },
    sha256: await bodySha256(replacement.body, replacement.bodyEncoding),
  };
}

/** The hash of the body the job had: its original when sealed (and the seal opens), else the stored copy. */
export async function previousBodySha256(env: Env, row: RecoveryView): Promise<{ sha256: string; of: "original" | "stored copy" }> {
  if (row.sealedBody) {
    try {
      return { sha256: await bodySha256(await unseal(env.RETRY_SEAL_KEY ?? "", row.sealedBody), row.bodyEncoding), of: "original" };
    } catch {
      // a rotated key: the stored copy is what can still be vouched for
    }
  }
  return { sha256: await bodySha256(row.body, row.bodyEncoding), of: row.bodyRedacted ? "stored copy" : "original" };
}

/** Why this replacement may not stand in for the job: the capture helper finds a job by its tenantId and jobId. */
export function identityBlocker(row: RecoveryView, replacement: Replacement): string | null {
  if (row.bodyEncoding !== "json") return null;
  const before = parseObject(row.body);
  if (!before) return null;
  const after = replacement.bodyEncoding === "json" ? parseObject(replacement.body) : null;
  for (const key of ["tenantId", "jobId"] as const) {
    if (typeof before[key] === "string" && after?.[key] !== before[key]) {
      return `the replacement must keep ${key} ${JSON.stringify(before[key])}, which the job's consumer and the capture helper identify it by`;
    }
  }
  return null;
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

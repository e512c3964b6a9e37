// Sentry-style grouping: the same kind of error in the same queue lands in one group, whatever
// ids, numbers or quoted values its message carries.

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const QUOTED = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g;
const HEX = /\b0x[0-9a-f]+\b|\b[0-9a-f]{8,}\b/gi;
const NUMBER = /\d+(?:\.\d+)?/g;

export function normaliseMessage(message: string): string {
  return message
    .slice(0, 2048)
    .replace(UUID, "<uuid>")
    .replace(QUOTED, "<str>")
    .replace(HEX, "<hex>")
    .replace(NUMBER, "<n>")
    .replace(/\s+/g, " ")
    .trim();
}

/** Fingerprints of texts seen lately: a dead-letter batch is mostly a few kinds of error. */
const seen = new Map<string, string>();
const SEEN_MAX = 1_000;

export async function fingerprint(errorName: string, message: string, queue: string): Promise<string> {
  const text = `${errorName}\n${normaliseMessage(message)}\n${queue}`;
  const known = seen.get(text);
  if (known) return known;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  const fp = [...new Uint8Array(digest).slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
  if (seen.size >= SEEN_MAX) seen.clear();
  seen.set(text, fp);
  return fp;
}

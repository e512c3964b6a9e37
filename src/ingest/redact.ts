// Redaction before anything is stored: values under sensitive keys, and strings that look like
// bearer tokens, JWTs or card numbers, are replaced by a marker. Over-redacting is the safe side.

export const REDACTED = "[REDACTED]";

export const DEFAULT_SENSITIVE_KEYS = [
  "authorization",
  "cookie",
  "password",
  "passwd",
  "passphrase",
  "secret",
  "token",
  "apikey",
  "privatekey",
  "credential",
  "session",
  "cardnumber",
  "creditcard",
  "cvv",
  "cvc",
  "ssn",
];

export interface Redactor {
  value(value: unknown): unknown;
  text(text: string): string;
  bytes(bytes: Uint8Array): Uint8Array;
}

const normaliseKey = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, "");

const BEARER = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g;
const CARD = /\b\d(?:[ -]?\d){12,18}\b/g;

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function redactText(text: string): string {
  return text
    .replace(BEARER, (_m, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(JWT, REDACTED)
    .replace(CARD, (match) => (luhn(match.replace(/[ -]/g, "")) ? REDACTED : match));
}

/** Walks at most this deep; anything deeper is replaced whole rather than stored unread. */
const MAX_DEPTH = 64;

/** Per-redactor memory of which keys are sensitive, cleared when it holds this many. */
const KEY_MEMO = 10_000;

/** Sets `key` on `out` as data, a literal "__proto__" key included (it would change the prototype). */
function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

export function createRedactor(extraKeys: readonly string[] = []): Redactor {
  const keys = [...DEFAULT_SENSITIVE_KEYS, ...extraKeys].map(normaliseKey).filter(Boolean);
  const known = new Map<string, boolean>();
  const sensitive = (key: string) => {
    let yes = known.get(key);
    if (yes === undefined) {
      const k = normaliseKey(key);
      yes = keys.some((s) => k.includes(s));
      if (known.size >= KEY_MEMO) known.clear();
      known.set(key, yes);
    }
    return yes;
  };

  // A value that needs no redaction comes back as itself (not a copy), so the caller can tell.
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === "string") return redactText(value);
    if (typeof value !== "object" || value === null) return value;
    if (depth >= MAX_DEPTH) return `${REDACTED} (nested deeper than ${MAX_DEPTH})`;
    if (Array.isArray(value)) {
      let out: unknown[] | null = null;
      value.forEach((v: unknown, i) => {
        const w = walk(v, depth + 1);
        if (w !== v && !out) out = value.slice(0, i);
        if (out) out[i] = w;
      });
      return out ?? value;
    }
    const entries = Object.entries(value);
    let out: Record<string, unknown> | null = null;
    entries.forEach(([key, v], i) => {
      const w = sensitive(key) && v !== null && v !== "" ? REDACTED : walk(v, depth + 1);
      if (w !== v && !out) {
        out = {};
        for (const [k, kept] of entries.slice(0, i)) put(out, k, kept);
      }
      if (out) put(out, key, w);
    });
    return out ?? value;
  };

  return {
    value: (value) => walk(value, 0),
    text: redactText,
    // Bytes are scanned as latin1, a one-to-one view of bytes, so markers replace exactly the matched bytes' region.
    bytes: (bytes) => {
      let latin1 = "";
      for (let i = 0; i < bytes.length; i += 0x8000) latin1 += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      const redacted = redactText(latin1);
      if (redacted === latin1) return bytes;
      return Uint8Array.from(redacted, (c) => c.charCodeAt(0));
    },
  };
}

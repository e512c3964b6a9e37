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

export function createRedactor(extraKeys: readonly string[] = []): Redactor {
  const keys = [...DEFAULT_SENSITIVE_KEYS, ...extraKeys].map(normaliseKey).filter(Boolean);
  const sensitive = (key: string) => {
    const k = normaliseKey(key);
    return keys.some((s) => k.includes(s));
  };

  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === "string") return redactText(value);
    if (typeof value !== "object" || value === null) return value;
    if (depth >= MAX_DEPTH) return `${REDACTED} (nested deeper than ${MAX_DEPTH})`;
    if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      // defineProperty keeps a literal "__proto__" key as data instead of changing the prototype
      Object.defineProperty(out, key, {
        value: sensitive(key) && v !== null && v !== "" ? REDACTED : walk(v, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
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

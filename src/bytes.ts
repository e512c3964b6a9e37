// Byte helpers shared by the consumers and the API.

/** Strict UTF-8: returns null for invalid sequences instead of replacing them. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

export function asBytes(body: ArrayBuffer | ArrayBufferView): Uint8Array {
  return body instanceof ArrayBuffer ? new Uint8Array(body) : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

export function isBytes(body: unknown): body is ArrayBuffer | ArrayBufferView {
  return body instanceof ArrayBuffer || ArrayBuffer.isView(body);
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

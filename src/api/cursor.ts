// Keyset cursors, opaque to clients: base64url of [a time in ms, a tie-breaking id].

import { z } from "zod";

export interface KeysetPosition {
  at: number;
  id: string;
}

export const Cursor = z
  .string()
  .max(1024)
  .transform((text, ctx): KeysetPosition => {
    try {
      const [at, id] = JSON.parse(atob(text.replaceAll("-", "+").replaceAll("_", "/"))) as unknown[];
      if (typeof at === "number" && Number.isSafeInteger(at) && typeof id === "string") return { at, id };
    } catch {
      // fall through to the issue below
    }
    ctx.addIssue({ code: "custom", message: "cursor is not one this API returned" });
    return z.NEVER;
  })
  .meta({ description: "nextCursor from the previous page" });

export function encodeCursor(position: KeysetPosition): string {
  return btoa(JSON.stringify([position.at, position.id])).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

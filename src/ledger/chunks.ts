import { fitting } from "../sql";

/** Reads a list of ids in runs that fit one statement, `fixed` other parameters besides. */
export function inChunks<T>(ids: readonly string[], read: (chunk: string[], placeholders: string) => T[], fixed = 10): T[] {
  return fitting(ids, 1, fixed).flatMap((chunk) => read(chunk, chunk.map(() => "?").join(", ")));
}

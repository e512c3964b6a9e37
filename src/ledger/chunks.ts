/** SQLite statements take at most 100 bound parameters: lists of ids are read in chunks. */
export const ID_CHUNK = 90;

export function inChunks<T>(ids: readonly string[], read: (chunk: string[], placeholders: string) => T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += ID_CHUNK) {
    const chunk = ids.slice(i, i + ID_CHUNK);
    out.push(...read(chunk, chunk.map(() => "?").join(", ")));
  }
  return out;
}

/** `work`'s result and the rows SQLite read (every cursor's rowsRead) while it ran. */
export async function withRowsRead<T>(sql: SqlStorage, work: () => T | Promise<T>): Promise<{ result: T; rowsRead: number; statements: number }> {
  const exec = sql.exec;
  const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
  sql.exec = ((query: string, ...bindings: unknown[]) => {
    const cursor = exec.call(sql, query, ...bindings);
    cursors.push(cursor);
    return cursor;
  }) as typeof sql.exec;
  try {
    const result = await work();
    return { result, rowsRead: cursors.reduce((n, c) => n + c.rowsRead, 0), statements: cursors.length };
  } finally {
    sql.exec = exec;
  }
}

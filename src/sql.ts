// SQL as tagged templates: sql`UPDATE failures SET status = ${to} WHERE job_id = ${jobId}` keeps
// each value beside the column it belongs to. Values become bound parameters, never text; a
// nested sql`` fragment is spliced in with its own parameters. The one bound on parameters per
// statement (DO SQLite and D1 both allow 100) is kept here. Every Durable Object SQLite statement
// goes through the tag and run() (only ledger/schema.ts's static DDL runs as plain text), and
// every D1 statement through the tag and prepare().

export type SqlValue = string | number | null | ArrayBuffer;

/** DO SQLite and D1 take at most this many bound parameters in one statement. */
export const MAX_BOUND_PARAMETERS = 100;

export class Sql {
  constructor(
    readonly text: string,
    readonly params: readonly SqlValue[],
  ) {}

  /** This fragment in parentheses. */
  wrap(): Sql {
    return new Sql(`(${this.text})`, this.params);
  }
}

type Part = SqlValue | boolean | undefined | Sql;

export function sql(strings: TemplateStringsArray, ...parts: Part[]): Sql {
  let text = strings[0] ?? "";
  const params: SqlValue[] = [];
  parts.forEach((part, i) => {
    if (part instanceof Sql) {
      text += part.text;
      params.push(...part.params);
    } else {
      text += "?";
      params.push(part === undefined ? null : typeof part === "boolean" ? (part ? 1 : 0) : part);
    }
    text += strings[i + 1] ?? "";
  });
  return new Sql(text, params);
}

/** Trusted text (an identifier or keyword list written in code), spliced in as it is. */
sql.raw = (text: string): Sql => new Sql(text, []);

/** The fragments joined by `separator`: a column list, AND-ed terms, rows of VALUES. */
sql.join = (fragments: readonly Sql[], separator = ", "): Sql =>
  new Sql(
    fragments.map((f) => f.text).join(separator),
    fragments.flatMap((f) => f.params),
  );

/** `(?, ?, ?)`: one parenthesised list, e.g. the values of IN (...) or one row of VALUES. */
sql.list = (values: readonly Part[]): Sql => sql.join(values.map((v) => sql`${v}`)).wrap();

/** Refuses a statement the platform would refuse, with the statement's start in the message. */
function checked(q: Sql): Sql {
  if (q.params.length > MAX_BOUND_PARAMETERS) {
    throw new RangeError(`${q.params.length} bound parameters (at most ${MAX_BOUND_PARAMETERS}): ${q.text.slice(0, 80)}`);
  }
  return q;
}

/** Runs `q` on a Durable Object's SQLite storage. */
export function run<T extends Record<string, SqlStorageValue>>(storage: SqlStorage, q: Sql): SqlStorageCursor<T> {
  const c = checked(q);
  return storage.exec<T>(c.text, ...c.params);
}

/** `q` as a D1 statement (for batch()). */
export function prepare(db: D1Database, q: Sql): D1PreparedStatement {
  const c = checked(q);
  return db.prepare(c.text).bind(...c.params);
}

/**
 * `items` cut into runs that fit one statement, given the parameters each item binds and the
 * ones the statement binds besides them.
 */
export function fitting<T>(items: readonly T[], perItem: number, fixed = 0): T[][] {
  const size = Math.max(1, Math.floor((MAX_BOUND_PARAMETERS - fixed) / perItem));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A sink (D1, R2, Analytics Engine, a webhook) refused or failed: expected, retried with backoff. */
export class SinkError extends Error {
  constructor(
    readonly sink: "d1" | "r2" | "analytics",
    cause: unknown,
  ) {
    super(`${sink}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "SinkError";
  }
}

export async function inSink<T>(sink: SinkError["sink"], work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new SinkError(sink, error);
  }
}

/**
 * getQueueResult (pool 0.15.1) does not report retry options: each message's retry() calls are
 * recorded here on their way to the real one.
 */
export function recordRetries(batch: MessageBatch<unknown>): Map<string, (QueueRetryOptions | undefined)[]> {
  const retries = new Map<string, (QueueRetryOptions | undefined)[]>();
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    Object.defineProperty(m, "retry", {
      value: (options?: QueueRetryOptions) => {
        retries.set(m.id, [...(retries.get(m.id) ?? []), options]);
        retry(options);
      },
    });
  }
  return retries;
}

export class SendRefused extends Error {
  constructor() {
    super("the dead-letter queue refused the send (test)");
    this.name = "SendRefused";
  }
}

/**
 * The real queue binding, seen through the one seam the capture helper has: the queue its
 * `deadLetterQueue` option returns. Records every send; the first `refuse` sends throw instead.
 */
export function watchedQueue(queue: Queue, options: { refuse?: number } = {}): { queue: Queue; sent: unknown[]; refused: () => number } {
  const sent: unknown[] = [];
  let refused = 0;
  const watched = {
    async send(body: unknown, sendOptions?: QueueSendOptions) {
      if (refused < (options.refuse ?? 0)) {
        refused++;
        throw new SendRefused();
      }
      sent.push(body);
      return queue.send(body, sendOptions);
    },
    async sendBatch() {
      throw new Error("the capture helper sends one envelope at a time");
    },
  } as unknown as Queue;
  return { queue: watched, sent, refused: () => refused };
}

/** Tests that wait for the background DLQ consumer (max_batch_timeout = 2 s) need more than the default 5 s. */
export const LEDGER_WAIT = { timeout: 15_000 };

import { InjectedFault, faultPoint } from "../../src/faults";

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

/** True when nothing passed the capture.send seam since the test armed it (so nothing was sent). */
export function sendSeamUntouched(): boolean {
  try {
    faultPoint("capture.send");
    return false;
  } catch (error) {
    return error instanceof InjectedFault;
  }
}

/** Tests that wait for the background DLQ consumer (max_batch_timeout = 2 s) need more than the default 5 s. */
export const LEDGER_WAIT = { timeout: 15_000 };

// Prices per billed unit, from /work/shared/PLATFORM.md ("Prices (for the cost-per-failure
// benchmark)"), in US dollars per unit. Change them here when the price list changes.

export const PRICES = {
  queueOp: 0.4 / 1e6, // a delivery is write + read + delete = 3 operations (64 KB each)
  workerRequest: 0.3 / 1e6,
  doRequest: 0.15 / 1e6, // an RPC call or an alarm run
  doRowWritten: 1.0 / 1e6,
  doRowRead: 0.001 / 1e6,
  d1RowWritten: 1.0 / 1e6,
  d1RowRead: 0.001 / 1e6,
  r2ClassA: 4.5 / 1e6, // put, list
  r2ClassB: 0.36 / 1e6, // get, head
  analyticsPoint: 0.25 / 1e6,
};

/** Queue operations per message delivered to the DLQ consumer (write, read, delete). */
export const QUEUE_OPS_PER_MESSAGE = 3;

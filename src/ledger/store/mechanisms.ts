// The store's mechanisms that can be turned off. All are on wherever the ledger runs; the bench
// turns one off at a time to measure what it saves (docs/ARCHITECTURE.md, "The storage
// boundary"), so that each stays only while the figure says it pays.

export interface Mechanisms {
  /**
   * A list's newest entries ride in a row the change writes anyway (order-lists.ts). Off: a change
   * writes a list row for every list it appends to.
   */
  listTails: boolean;
  /**
   * Per group, class and status, a list of its failures (order-lists.ts), read by a filtered page
   * when it is short. Off: no list is written, and every filtered page walks the time order.
   */
  orderLists: boolean;
}

export const ALL_MECHANISMS: Readonly<Mechanisms> = { listTails: true, orderLists: true };

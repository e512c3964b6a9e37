// What a ledger RPC method answers when it will not do what was asked: a value, not a thrown
// error (RPC carries a value intact, and a thrown error's class does not survive the trip).
// The API maps each code to its status in one place (src/api/refusals.ts).

export type RefusalCode = "not_found" | "conflict" | "send_failed" | "too_many";

export interface Refusal {
  refused: RefusalCode;
  message: string;
}

/** The answer of a ledger method that may refuse. */
export type Refusable<T> = T | Refusal;

export const refuse = (refused: RefusalCode, message: string): Refusal => ({ refused, message });

export function isRefusal(result: unknown): result is Refusal {
  return typeof result === "object" && result !== null && "refused" in result;
}

/** Thrown inside a ledger change to roll it back; the RPC method returns it as a Refusal. */
export class Refused extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
    this.name = "Refused";
  }

  get refusal(): Refusal {
    return refuse(this.code, this.message);
  }
}

/** `work`'s answer, or the Refusal it was refused with (its change rolled back). */
export async function refusing<T>(work: () => T | Promise<T>): Promise<Refusable<T>> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Refused) return error.refusal;
    throw error;
  }
}

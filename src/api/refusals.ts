// The one place a ledger's refusal becomes the API's error shape.

import { isRefusal, type Refusal, type RefusalCode } from "../ledger/refusal";
import { ApiError } from "./errors";

const STATUS: Record<RefusalCode, number> = { not_found: 404, conflict: 409, too_many: 422, send_failed: 503 };

/** The ledger's answer (as its RPC stub delivers it), or the ApiError its refusal stands for. */
export function unlessRefused<R>(result: R): Exclude<R, Refusal> {
  if (isRefusal(result)) throw new ApiError(STATUS[result.refused], result.refused, result.message);
  return result as Exclude<R, Refusal>;
}

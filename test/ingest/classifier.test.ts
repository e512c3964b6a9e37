import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { readConfig } from "../../src/config";
import { createClassifier } from "../../src/ingest/classifier";
import type { ErrorInfo } from "../../src/model";

const classify = createClassifier();
const error = (overrides: Partial<ErrorInfo>): ErrorInfo => ({ name: "Error", message: "", ...overrides });

describe("default classification table", () => {
  it.each([
    [{ status: 408 }, "RECOVERABLE"],
    [{ status: 429 }, "RECOVERABLE"],
    [{ status: 503 }, "RECOVERABLE"],
    [{ status: 504 }, "RECOVERABLE"],
    [{ status: 400 }, "USER_ERROR"],
    [{ status: 404 }, "USER_ERROR"],
    [{ status: 422 }, "USER_ERROR"],
    [{ status: 500 }, "SYSTEM_ERROR"],
    [{ status: 502 }, "SYSTEM_ERROR"],
    [{ code: "ECONNRESET", message: "socket closed" }, "RECOVERABLE"],
    [{ name: "TimeoutError", message: "operation aborted" }, "RECOVERABLE"],
    [{ name: "ValidationError", message: "field x" }, "USER_ERROR"],
    [{ message: "Rate limit exceeded, slow down" }, "RECOVERABLE"],
    [{ message: "Request timed out after 30s" }, "RECOVERABLE"],
    [{ message: "Invalid input: email" }, "USER_ERROR"],
    [{ message: "Chart 17 not found" }, "USER_ERROR"],
    [{ message: "Internal error in renderer" }, "SYSTEM_ERROR"],
    [{ message: "Cannot read properties of undefined (reading 'x')", name: "TypeError" }, "SYSTEM_ERROR"],
    [{ message: "the moon is in the wrong phase" }, "UNKNOWN"],
  ] as const)("%o → %s", (e, expected) => {
    expect(classify(error(e)).class).toBe(expected);
  });

  it("lets a status decide before a misleading message", () => {
    expect(classify(error({ status: 404, message: "internal error while looking up" })).class).toBe("USER_ERROR");
  });

  it("tries custom rules first, with every matcher of a rule required", () => {
    const custom = createClassifier([{ class: "SYSTEM_ERROR", reason: "payments down", status: [503], code: ["PAYMENTS"] }]);
    expect(custom(error({ status: 503, code: "PAYMENTS" }))).toEqual({ class: "SYSTEM_ERROR", reason: "payments down" });
    expect(custom(error({ status: 503, code: "OTHER" }))).toEqual({ class: "RECOVERABLE", reason: "retryable HTTP status" });
  });
});

describe("CLASSIFIER_RULES configuration", () => {
  it("rejects rules that are not valid, saying what to fix", () => {
    expect(() => readConfig({ ...env, CLASSIFIER_RULES: "{not json" })).toThrow(/CLASSIFIER_RULES must be a JSON array/);
    expect(() => readConfig({ ...env, CLASSIFIER_RULES: `[{"class":"RECOVERABLE","reason":"r"}]` })).toThrow(/at least one of/);
    expect(() => readConfig({ ...env, CLASSIFIER_RULES: `[{"class":"RECOVERABLE","reason":"r","message":"("}]` })).toThrow(
      /valid regular expression/,
    );
    expect(() => readConfig({ ...env, CLASSIFIER_RULES: `[{"class":"MAYBE","reason":"r","status":[500]}]` })).toThrow(/Invalid configuration/);
  });
});

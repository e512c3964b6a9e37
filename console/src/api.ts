// The console's one way to the API: the token from this tab's session storage as a bearer
// token, answers typed by the worker's own zod schemas, errors in the API's one shape.

import type { z } from "zod";
import type * as S from "../../src/contract/schemas";
import type { ErrorBody } from "../../src/contract/errors";

export type Stats = z.infer<typeof S.LedgerStats>;
export type CrossTenant = z.infer<typeof S.CrossTenantStats>;
export type Failure = z.infer<typeof S.FailureSummary>;
export type FailurePage = z.infer<typeof S.FailurePage>;
export type FailureView = z.infer<typeof S.FailureView>;
export type Group = z.infer<typeof S.GroupSummary>;
export type HistoryEntry = z.infer<typeof S.ActionEntry>;
export type Operation = z.infer<typeof S.Operation>;
export type OperationPreview = z.infer<typeof S.OperationPreview>;
export type OperationList = z.infer<typeof S.OperationList>;
export type Parked = z.infer<typeof S.Parked>;
export type Token = z.infer<typeof S.TokenView>;
export type CreatedToken = z.infer<typeof S.CreatedToken>;
export type Session = z.infer<typeof S.Session>;
export type Series = z.infer<typeof S.FailureSeries>;
type ErrorShape = z.infer<typeof ErrorBody>;

const KEY = "dlq-ledger.token";

/** The token lives in sessionStorage: this tab only, gone when the tab closes or on sign-out. */
export const tokenStore = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (token: string) => sessionStorage.setItem(KEY, token),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown; query?: Query; token?: string } = {}): Promise<T> {
  const token = init.token ?? tokenStore.get();
  const headers: Record<string, string> = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(withQuery(path, init.query), {
      method: init.method ?? "GET",
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiFailure(0, "network", "The worker did not answer: is it running, and is this page served by it?");
  }
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: reported below.
  }
  if (!response.ok) {
    const error = (parsed as ErrorShape | undefined)?.error;
    throw new ApiFailure(response.status, error?.code ?? "http_error", error?.message ?? `HTTP ${response.status} ${response.statusText}`);
  }
  if (parsed === undefined) throw new ApiFailure(response.status, "bad_answer", "The API answered something that is not JSON.");
  return parsed as T;
}

/** ?tenant= for every tenant-scoped call: the admin must name it, a tenant token may. */
export const tenantQuery = (tenant: string, extra: Query = {}): Query => ({ tenant, ...extra });

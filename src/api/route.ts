// A route is one entry of the table in routes.ts: method, path, who may call it, the zod schemas
// of its parameters, body and responses, and the handler. The router registers, validates and
// authorises from the entry, and the OpenAPI document is generated from the same entry, so a
// route cannot be served without being documented, nor documented differently from how it runs.

import type { IRequest } from "itty-router";
import type { z } from "zod";
import type { Auth, Scope } from "./auth";

export type Method = "GET" | "POST" | "DELETE";

/**
 * public: anyone · dev: anyone, and only when DEV_ROUTES=true · token: any valid token ·
 * tenant:<scope>: a tenant token with at least that scope (its own tenant) or the admin token
 * (naming a tenant) · admin: the admin token ·
 * ticket: a single-use live ticket in the query instead of a token (a browser's WebSocket cannot send one).
 */
export type Access = "public" | "dev" | "token" | `tenant:${Scope}` | "admin" | "ticket";

/** The scope a credential must hold for a route: the admin token holds every scope. */
export type Needed = Scope | "admin";

/** The scope a route needs, or null when it takes no token. A route for any token needs read. */
export function scopeNeeded(route: Pick<Route, "access">): Needed | null {
  if (route.access === "public" || route.access === "dev" || route.access === "ticket") return null;
  if (route.access === "admin") return "admin";
  if (route.access === "token") return "read";
  return route.access === "tenant:operate" ? "operate" : "read";
}

/** Whether a credential with scope `held` may call a route that needs `needed`. */
export function permits(held: Needed, needed: Needed): boolean {
  if (held === "admin") return true;
  if (needed === "admin") return false;
  return needed === "read" || held === "operate";
}

/** A route acting on one tenant (a tenant token's own, or the one the admin names). */
export const isTenantRoute = (route: Pick<Route, "access">) => route.access.startsWith("tenant:");

/** Error statuses a route may answer with beyond the ones its access and inputs imply. */
export type ExtraError = 403 | 404 | 409 | 422 | 426 | 503;

export type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface JsonResponse {
  description: string;
  schema: z.ZodType;
}
export interface TextResponse {
  description: string;
  text: string;
}
/** 101: the request becomes a WebSocket carrying these messages (documented, not validated). */
export interface UpgradeResponse {
  description: string;
  webSocket: { server: z.ZodType; client: z.ZodType };
}
export type ResponseSpec = JsonResponse | TextResponse | UpgradeResponse;
export type Responses = Partial<Record<101 | 200 | 201 | 202, ResponseSpec>>;

type BodyOf<S> = S extends JsonResponse
  ? z.input<S["schema"]>
  : S extends TextResponse
    ? string
    : S extends UpgradeResponse
      ? Response
      : never;

const REPLY = Symbol("reply");
export interface Reply<T> {
  [REPLY]: true;
  status: number;
  body: T;
}

/** A body with a status other than the route's first documented one. */
export function reply<const S extends number, T>(status: S, body: T): Reply<T> & { status: S } {
  return { [REPLY]: true, status, body };
}

export function isReply(value: unknown): value is Reply<unknown> {
  return typeof value === "object" && value !== null && REPLY in value;
}

type Result<R extends Responses> = { [S in keyof R]: BodyOf<R[S]> | (Reply<BodyOf<R[S]>> & { status: S }) }[keyof R];

export interface BodySpec<B extends z.ZodType> {
  schema: B;
  /** Bytes; larger bodies get 413 before they are parsed. */
  maxBytes?: number;
  /** An empty body parses as `undefined` (the schema's default applies). */
  optional?: boolean;
  /** The handler reads the body itself (raw bytes): the schema only documents it. */
  raw?: { contentTypes: string[] };
}

/** The tenant a call acts on and that tenant's ledger. */
export interface TenantLedger {
  /** A tenant token's own tenant, or the one the admin token names with ?tenant=. */
  id: string;
  ledger: ReturnType<Env["FAILURE_LEDGER"]["getByName"]>;
}

/**
 * What the router hands a handler: the request and env, and its inputs, parsed. A tenant route
 * also gets `tenant()`, which resolves the tenant (tenantOf) only when called, so whatever the
 * handler checks first is still answered first.
 */
export type Call<Q, P, B, A extends Access = Access> = {
  request: ApiRequest;
  env: Env;
  ctx: ExecutionContext;
  query: Q;
  params: P;
  body: B;
} & (A extends `tenant:${Scope}` ? { tenant: () => TenantLedger } : unknown);

export interface ApiRequest extends IRequest {
  /** Who is calling; set for every route that takes a token. */
  auth?: Auth;
  /** The route being served and its parsed path parameters (for tenantOf's 404). */
  served?: { route: Route; params: Record<string, string> };
}

export interface RouteSpec<
  Q extends AnyObject | undefined,
  P extends AnyObject | undefined,
  B extends z.ZodType | undefined,
  R extends Responses,
  A extends Access,
> {
  method: Method;
  /** itty-router pattern, e.g. /api/queue/dlq/failures/:jobId */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  access: A;
  query?: Q;
  params?: P;
  body?: B extends z.ZodType ? BodySpec<B> : undefined;
  responses: R;
  errors?: ExtraError[];
  /**
   * The 404 message for a missing resource of this route. A tenant token naming another tenant
   * gets exactly this answer too, so it learns nothing about what that tenant has.
   */
  notFound?: (params: P extends AnyObject ? z.output<P> : Record<string, never>) => string;
  handler: (
    call: Call<
      Q extends AnyObject ? z.output<Q> : Record<string, never>,
      P extends AnyObject ? z.output<P> : Record<string, never>,
      B extends z.ZodType ? z.output<B> : undefined,
      A
    >,
  ) => Promise<Result<R>> | Result<R>;
}

/** The erased form the router and the OpenAPI generator work with. */
export interface Route {
  method: Method;
  path: string;
  summary: string;
  description?: string;
  tag: string;
  access: Access;
  query?: AnyObject;
  params?: AnyObject;
  body?: BodySpec<z.ZodType>;
  responses: Responses;
  errors?: ExtraError[];
  notFound?: (params: Record<string, unknown>) => string;
  handler: (call: Call<any, any, any> & { tenant?: () => TenantLedger }) => Promise<unknown> | unknown;
}

export function defineRoute<
  Q extends AnyObject | undefined = undefined,
  P extends AnyObject | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
  R extends Responses = Responses,
  A extends Access = Access,
>(spec: RouteSpec<Q, P, B, R, A>): Route {
  return spec as unknown as Route;
}

/** The statuses a route can answer with, derived from what it takes and who may call it. */
export function errorStatuses(route: Route): number[] {
  const statuses = new Set<number>();
  if (route.query || route.params || route.body) statuses.add(400);
  if (route.access === "ticket") statuses.add(401);
  else if (route.access !== "public" && route.access !== "dev") {
    statuses.add(401);
    statuses.add(429);
  }
  if (route.access === "admin" || route.access === "tenant:operate") statuses.add(403);
  if (isTenantRoute(route) || route.access === "dev" || route.notFound) statuses.add(404);
  if (route.body) statuses.add(413);
  for (const status of route.errors ?? []) statuses.add(status);
  statuses.add(500);
  return [...statuses].sort((a, b) => a - b);
}

// The OpenAPI 3.1 document, generated from the route table and its zod schemas (JSON Schema
// 2020-12 is OpenAPI 3.1's schema dialect, and zod 4's default target).

import { z } from "zod";
import { ErrorBody } from "../contract/errors";
import { errorStatuses, isTenantRoute, scopeNeeded, type Route } from "./route";

const ERRORS: Record<number, { code: string; description: string }> = {
  400: { code: "invalid_request", description: "A parameter or the body is invalid (or the body is not JSON: invalid_json); details lists each problem" },
  401: { code: "unauthorized", description: "No token, a malformed Authorization header, or a token that is wrong or revoked" },
  403: { code: "forbidden", description: "The token is valid but lacks the scope this route needs (x-scope): operate, or the admin token (GET /api/live: the page's Origin is not allowed)" },
  404: { code: "not_found", description: "No such resource in this tenant (also the answer for another tenant's)" },
  409: { code: "conflict", description: "The failure's state does not allow this (e.g. abandoned, or no producer for its queue)" },
  413: { code: "payload_too_large", description: "The request body is larger than this route accepts" },
  422: { code: "too_many", description: "The filter matches more failures than one operation takes" },
  426: { code: "upgrade_required", description: "A WebSocket endpoint was called without 'Upgrade: websocket'" },
  429: { code: "rate_limited", description: "Too many requests for this token; wait Retry-After seconds" },
  500: { code: "internal_error", description: "Unexpected; logged on the server" },
  503: { code: "send_failed", description: "A queue refused the send (over its rate or backlog limit): nothing was changed for what it refused (POST /dev/jobs: details say which jobs were enqueued before it); wait and try again" },
};

type Json = Record<string, unknown>;

/**
 * Request parts are documented as their input (what a client sends); responses are plain
 * schemas without transforms, documented the same way so extra fields stay allowed.
 */
function jsonSchema(schema: z.ZodType): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as Json;
  return rest;
}

const openApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}");
const operationId = (route: Route) =>
  `${route.method.toLowerCase()}${openApiPath(route.path)
    .split(/[/{}._-]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join("")}`;

function parameters(route: Route): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [
    ["path", route.params],
    ["query", route.query],
  ] as const) {
    if (!schema) continue;
    const object = jsonSchema(schema) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, property] of Object.entries(object.properties ?? {})) {
      const { description, ...rest } = property;
      out.push({
        name,
        in: where,
        required: where === "path" || (object.required ?? []).includes(name),
        ...(description === undefined ? {} : { description }),
        schema: rest,
      });
    }
  }
  return out;
}

export function openApiDocument(routes: readonly Route[], options: { devRoutes: boolean }): Json {
  const paths: Record<string, Record<string, Json>> = {};
  const used = new Set<number>();
  for (const route of routes) {
    if (route.access === "dev" && !options.devRoutes) continue;
    const responses: Record<string, Json> = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      responses[status] =
        "schema" in spec
          ? { description: spec.description, content: { "application/json": { schema: jsonSchema(spec.schema) } } }
          : "webSocket" in spec
            ? {
                description: spec.description,
                // OpenAPI has no words for WebSocket messages: their JSON Schemas, as an extension.
                "x-websocket-messages": { server: jsonSchema(spec.webSocket.server), client: jsonSchema(spec.webSocket.client) },
              }
            : { description: spec.description, content: { [spec.text]: { schema: { type: "string" } } } };
    }
    for (const status of errorStatuses(route)) {
      used.add(status);
      responses[String(status)] = { $ref: `#/components/responses/Error${status}` };
    }
    const body = route.body;
    const requestBody = body
      ? {
          required: !body.optional,
          content: Object.fromEntries((body.raw?.contentTypes ?? ["application/json"]).map((type) => [type, { schema: jsonSchema(body.schema) }])),
        }
      : undefined;
    const notes = [
      route.description,
      route.body ? `Body at most ${body?.maxBytes ?? 64 * 1024} bytes.` : undefined,
      isTenantRoute(route) ? "A tenant token acts on its own tenant; the admin token names one with ?tenant=." : undefined,
      scopeNeeded(route) === "operate" ? "Needs a token with scope operate (or the admin token): a read token gets 403." : undefined,
      route.access === "dev" ? "Served only when DEV_ROUTES=true (local development), without a token." : undefined,
      route.access === "ticket" ? "Takes a ticket from POST /api/live/ticket in the query instead of a token." : undefined,
    ].filter(Boolean);
    (paths[openApiPath(route.path)] ??= {})[route.method.toLowerCase()] = {
      operationId: operationId(route),
      summary: route.summary,
      ...(notes.length ? { description: notes.join(" ") } : {}),
      tags: [route.tag],
      security: route.access === "public" || route.access === "dev" || route.access === "ticket" ? [] : [{ bearer: [] }],
      ...(route.access === "admin" || route.access === "ticket" ? { "x-access": route.access } : isTenantRoute(route) ? { "x-access": "tenant" } : {}),
      ...(scopeNeeded(route) === null ? {} : { "x-scope": scopeNeeded(route) }),
      parameters: parameters(route),
      ...(requestBody ? { requestBody } : {}),
      responses,
    };
  }
  const errorSchema = jsonSchema(ErrorBody);
  return {
    openapi: "3.1.0",
    info: {
      title: "dlq-ledger ops API",
      version: "1",
      description:
        "Dead-letter ledger for Cloudflare Queues. Every /api route and /metrics take 'Authorization: Bearer <token>': the admin token (ADMIN_TOKEN) or a tenant token created with POST /api/admin/tokens. A tenant token has a scope: read (view only) or operate (also requeue, abandon, bulk operations, edit-and-requeue); each operation's x-scope names the scope it needs (admin: the admin token only). Every 4xx and 5xx answers { error: { code, message, details? } }.",
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    tags: [
      { name: "failures", description: "What failed, live from each tenant's ledger" },
      { name: "recovery", description: "Requeue or abandon, one at a time or by filter" },
      { name: "live", description: "Live updates from a tenant's ledger over a WebSocket" },
      { name: "admin", description: "Tenant tokens" },
      { name: "operations", description: "Health, metrics and this document" },
      ...(options.devRoutes ? [{ name: "dev", description: "Local development only" }] : []),
    ],
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "The admin token or a tenant token" } },
      schemas: { Error: errorSchema },
      responses: Object.fromEntries(
        [...used]
          .sort((a, b) => a - b)
          .map((status) => [
            `Error${status}`,
            {
              description: `${ERRORS[status]?.description ?? "Error"} (code ${ERRORS[status]?.code ?? "error"})`,
              ...(status === 429 || status === 401
                ? {
                    headers:
                      status === 429
                        ? { "Retry-After": { description: "Seconds to wait before retrying", schema: { type: "integer", minimum: 1 } } }
                        : { "WWW-Authenticate": { description: 'Bearer realm="dlq-ledger"', schema: { type: "string" } } },
                  }
                : {}),
              content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
            },
          ]),
      ),
    },
  };
}

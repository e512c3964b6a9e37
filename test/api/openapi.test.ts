import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import worker from "../../src/index";
import { errorStatuses, scopeNeeded, type Route } from "../../src/api/route";
import { ROUTES } from "../../src/api/routes";
import { apiFetch } from "../support/api";

let doc: any;

const openApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}");
const name = (r: Route) => `${r.method} ${r.path}`;

/** Every $ref in the document, with where it is. */
function refs(node: unknown, at = "#"): [string, string][] {
  if (Array.isArray(node)) return node.flatMap((n, i) => refs(n, `${at}/${i}`));
  if (typeof node !== "object" || node === null) return [];
  return Object.entries(node).flatMap(([k, v]) => (k === "$ref" && typeof v === "string" ? [[at, v] as [string, string]] : refs(v, `${at}/${k}`)));
}

function resolve(ref: string): unknown {
  return ref
    .slice(2)
    .split("/")
    .reduce<any>((node, part) => node?.[part], doc);
}

beforeAll(async () => {
  const res = await apiFetch("/api/openapi.json");
  expect(res.status).toBe(200);
  doc = await res.json();
});

describe("GET /api/openapi.json", () => {
  it("is an OpenAPI 3.1 document with bearer security", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.components.securitySchemes.bearer).toEqual(expect.objectContaining({ type: "http", scheme: "bearer" }));
  });

  it("documents exactly the routes of the table, each with its methods", () => {
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(ROUTES.map((r) => `${r.method} ${openApiPath(r.path)}`).sort());
  });

  it.each(ROUTES.map((r) => [name(r), r] as const))("%s: parameters, body, responses and errors", (_n, route) => {
    const op = doc.paths[openApiPath(route.path)][route.method.toLowerCase()];
    expect(op.summary).toBe(route.summary);
    expect(op.security).toEqual(route.access === "public" || route.access === "dev" || route.access === "ticket" ? [] : [{ bearer: [] }]);
    expect(op["x-scope"]).toBe(scopeNeeded(route) ?? undefined);

    const params = op.parameters.map((p: any) => `${p.in}:${p.name}`).sort();
    const expected = [
      ...Object.keys(route.params?.shape ?? {}).map((n) => `path:${n}`),
      ...Object.keys(route.query?.shape ?? {}).map((n) => `query:${n}`),
    ].sort();
    expect(params).toEqual(expected);
    for (const p of op.parameters) {
      expect(typeof p.schema).toBe("object");
      if (p.in === "path") expect(p.required).toBe(true);
      if (p.in === "query") expect(p.required).toBe(!(route.query!.shape[p.name] as z.ZodType).safeParse(undefined).success);
    }

    if (route.body) {
      expect(Object.keys(op.requestBody.content).length).toBeGreaterThan(0);
      expect(op.requestBody.required).toBe(!route.body.optional);
    } else expect(op.requestBody).toBeUndefined();

    const statuses = Object.keys(op.responses).map(Number).sort((a, b) => a - b);
    const expectedStatuses = [...Object.keys(route.responses).map(Number), ...errorStatuses(route)].sort((a, b) => a - b);
    expect(statuses).toEqual(expectedStatuses);
    for (const status of errorStatuses(route)) {
      const response = resolve(op.responses[status].$ref) as any;
      expect(response.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Error" });
    }
    for (const [status, spec] of Object.entries(route.responses)) {
      expect(op.responses[status].description).toEqual(expect.any(String));
      if ("webSocket" in spec) {
        expect(op.responses[status]["x-websocket-messages"]).toEqual({ server: expect.any(Object), client: expect.any(Object) });
        continue;
      }
      expect(Object.keys(op.responses[status].content)).toHaveLength(1);
    }
  });

  it("lists the routes' own rules in the schemas", () => {
    const list = doc.paths["/api/queue/dlq/failures"].get.parameters;
    expect(list.find((p: any) => p.name === "limit").schema).toMatchObject({ type: "integer", minimum: 1, maximum: 500, default: 50 });
    expect(list.find((p: any) => p.name === "class").schema.enum).toEqual(["RECOVERABLE", "USER_ERROR", "SYSTEM_ERROR", "UNKNOWN"]);
    const operation = doc.paths["/api/queue/dlq/operations"].post;
    expect(operation.requestBody.content["application/json"].schema).toMatchObject({
      type: "object",
      required: expect.arrayContaining(["action", "filter"]),
      additionalProperties: false,
    });
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(["200", "202", "422"]));
    expect(doc.paths["/metrics"].get.responses["200"].content).toHaveProperty(["text/plain; version=0.0.4; charset=utf-8"]);
    expect(doc.components.responses.Error429.headers).toHaveProperty("Retry-After");
    // the console features: search parameters, the series, the scope each operation needs, the replacement body
    expect(list.map((p: any) => p.name)).toEqual(expect.arrayContaining(["q", "field", "value"]));
    expect(doc.paths["/api/queue/dlq/series"].get).toMatchObject({ "x-scope": "read", responses: { "200": expect.anything(), "404": expect.anything() } });
    const requeue = doc.paths["/api/queue/dlq/failures/{jobId}/requeue"].post;
    expect(requeue["x-scope"]).toBe("operate");
    expect(Object.keys(requeue.responses)).toContain("403");
    expect(requeue.requestBody.content["application/json"].schema.properties).toHaveProperty("body");
    expect(doc.paths["/api/admin/tokens"].post.requestBody.content["application/json"].schema.properties.scope.enum).toEqual(["read", "operate"]);
  });

  it("has unique operation ids and no dangling $ref", () => {
    const ids = Object.values(doc.paths as Record<string, Record<string, any>>).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ROUTES.length);
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(0);
    expect(all.filter(([, ref]) => resolve(ref) === undefined)).toEqual([]);
  });

  it("leaves the /dev routes out where they are not served", async () => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("http://local/api/openapi.json", { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }),
      { ...env, DEV_ROUTES: "false" },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const production = (await res.json()) as any;
    expect(Object.keys(production.paths).filter((p) => p.startsWith("/dev"))).toEqual([]);
    expect(Object.keys(production.paths)).toHaveLength(new Set(ROUTES.filter((r) => r.access !== "dev").map((r) => r.path)).size);
  });

  it("is refused without a token", async () => {
    expect((await apiFetch("/api/openapi.json", {}, null)).status).toBe(401);
  });
});

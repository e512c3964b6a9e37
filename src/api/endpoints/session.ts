import { defineRoute } from "../route";
import { Session } from "../../contract/schemas";

/** Who the token belongs to: what a client (the console) needs to decide where to go. */
export const getSession = defineRoute({
  method: "GET",
  path: "/api/session",
  tag: "operations",
  summary: "The caller's token: admin or tenant, its tenant, label and scope",
  access: "token",
  responses: { 200: { description: "Who is calling", schema: Session } },
  handler({ request }) {
    const auth = request.auth!;
    return auth.kind === "admin"
      ? { kind: "admin" as const, tenant: null, label: auth.label, scope: "admin" as const }
      : { kind: "tenant" as const, tenant: auth.tenant, label: auth.label, scope: auth.scope };
  },
});

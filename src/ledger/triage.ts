// Triage of failure groups by a person: resolve (optionally with a note), acknowledge a
// regression or escalation (the group stays open, as ongoing), reopen a resolved group. Every
// action is idempotent: one that would change nothing answers the group as it is and records
// nothing. A change is kept in the group's history with who and when. Resolving a group resolves
// its open alerts; a failure after the resolve reopens it as regressed (store/groups.ts) and
// raises one regression alert (notify/ops.ts). Resolving changes no failure: retries go on.

import type { Change } from "./change";
import { resolveGroupAlerts } from "./notify/ops";
import { Refused } from "./refusal";
import type { GroupState } from "./store";

export type TriageAction = { action: "resolve"; note?: string } | { action: "acknowledge" } | { action: "reopen" };

/** The state `action` leads to from `current`, or null when it changes nothing. */
function nextState(current: GroupState, action: TriageAction["action"], at: number, by: string): GroupState | null {
  switch (action) {
    case "resolve":
      return current.state === "resolved" ? null : { state: "resolved", substate: "ongoing", changedAt: at, changedBy: by };
    case "acknowledge":
      return current.state === "open" && current.substate !== "ongoing" ? { state: "open", substate: "ongoing", changedAt: at, changedBy: by } : null;
    case "reopen":
      return current.state === "resolved" ? { state: "open", substate: "ongoing", changedAt: at, changedBy: by } : null;
  }
}

export function triageGroup(c: Change, fingerprint: string, request: TriageAction, actor: string): void {
  const current = c.store.groupState(fingerprint);
  if (!current) throw new Refused("not_found", `no group ${fingerprint} in this tenant`);
  const next = nextState(current, request.action, c.now, actor);
  if (!next) return;
  const note = request.action === "resolve" && request.note !== undefined ? { note: request.note } : undefined;
  c.store.changeGroupState(fingerprint, next, { at: c.now, actor, action: request.action, detail: note });
  if (next.state === "resolved") resolveGroupAlerts(c, fingerprint);
  c.live.groups.push(fingerprint);
}

// Bulk requeue / abandon: over everything a filter matches (a server-side operation, counted by a
// dry run before anyone confirms), or over the rows a person selected.

import { useEffect, useState } from "preact/hooks";
import { api, tenantQuery, type Operation, type OperationPreview } from "./api";
import { asFailure, useInterval } from "./hooks";
import { useLive } from "./live";
import { describeFilter } from "./pages/tenant";
import { Dialog, ErrorNote, num } from "./ui";
import type { ApiFailure } from "./api";

export type BulkAction =
  | { kind: "filter"; action: "requeue" | "abandon"; filter: Record<string, string | undefined> }
  | { kind: "selected"; action: "requeue" | "abandon"; jobIds: string[] };

export function BulkDialog({ tenant, bulk, onClose }: { tenant: string; bulk: BulkAction; onClose: (changed: boolean) => void }) {
  const verb = bulk.action === "requeue" ? "Requeue" : "Abandon";
  const [preview, setPreview] = useState<OperationPreview>();
  const [reason, setReason] = useState("");
  const [error, setError] = useState<ApiFailure>();
  const [busy, setBusy] = useState(false);
  const [operation, setOperation] = useState<Operation>();
  const [selectedDone, setSelectedDone] = useState<{ ok: number; failed: { jobId: string; message: string }[] }>();
  const filter = bulk.kind === "filter" ? Object.fromEntries(Object.entries(bulk.filter).filter(([, v]) => v)) : {};

  useEffect(() => {
    if (bulk.kind !== "filter") return;
    api<OperationPreview>("/api/queue/dlq/operations", { method: "POST", query: tenantQuery(tenant), body: { action: bulk.action, filter, dryRun: true } }).then(
      setPreview,
      (e) => setError(asFailure(e)),
    );
  }, []);

  // Progress is pushed by the ledger after each step; polled only while the socket is down.
  const live = useLive(tenant);
  useEffect(() => {
    const pushed = operation && live.changed.operations.find((o) => o.id === operation.id);
    if (pushed && pushed.processed >= operation.processed) setOperation(pushed);
  }, [live.version]);
  useInterval(
    () => {
      if (!operation) return;
      api<Operation>(`/api/queue/dlq/operations/${operation.id}`, { query: tenantQuery(tenant) }).then(setOperation, (e) => setError(asFailure(e)));
    },
    1000,
    operation !== undefined && operation.status !== "done" && live.status !== "live",
  );

  async function confirm(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    const why = reason.trim() || undefined;
    try {
      if (bulk.kind === "filter") {
        setOperation(await api<Operation>("/api/queue/dlq/operations", { method: "POST", query: tenantQuery(tenant), body: { action: bulk.action, filter, reason: why } }));
      } else {
        const failed: { jobId: string; message: string }[] = [];
        let ok = 0;
        for (const jobId of bulk.jobIds) {
          try {
            await api(`/api/queue/dlq/failures/${encodeURIComponent(jobId)}/${bulk.action}`, {
              method: "POST",
              query: tenantQuery(tenant),
              body: bulk.action === "abandon" ? { reason: why } : {},
            });
            ok++;
          } catch (e) {
            failed.push({ jobId, message: asFailure(e).message });
          }
          setSelectedDone({ ok, failed: [...failed] });
        }
      }
    } catch (e) {
      setError(asFailure(e));
    } finally {
      setBusy(false);
    }
  }

  const count = bulk.kind === "filter" ? preview?.matched : bulk.jobIds.length;
  const started = operation !== undefined || selectedDone !== undefined;
  const finished = operation?.status === "done" || (selectedDone !== undefined && !busy);
  const title = `${verb} ${bulk.kind === "filter" ? "all matching" : "selected"}`;

  return (
    <Dialog title={title} open onClose={() => onClose(started)}>
      {!started ? (
        <form onSubmit={confirm} class="stack">
          <p>
            Filter: <code>{bulk.kind === "filter" ? describeFilter(filter) : `${bulk.jobIds.length} selected rows`}</code>
          </p>
          {count === undefined ? (
            error ? null : <p aria-busy="true">Counting what matches…</p>
          ) : (
            <p class="count" data-testid="bulk-count">
              <strong>{num(count)}</strong> {count === 1 ? "failure" : "failures"} will be {bulk.action === "requeue" ? "sent back to their origin queue" : "abandoned and never retried"}.
            </p>
          )}
          {preview && preview.sample.length ? (
            <details open>
              <summary>Sample ({preview.sample.length})</summary>
              <ul class="sample">
                {preview.sample.map((id) => (
                  <li key={id}>
                    <code>{id}</code>
                  </li>
                ))}
              </ul>
            </details>
          ) : null}
          {bulk.action === "abandon" ? (
            <label>
              Reason (recorded in each failure's history)
              <input type="text" required maxLength={500} value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
            </label>
          ) : null}
          <ErrorNote error={error} action={bulk.action} />
          <div class="actions">
            <button type="button" onClick={() => onClose(false)}>
              Cancel
            </button>
            <button type="submit" class={bulk.action === "abandon" ? "danger" : "primary"} disabled={busy || !count || (bulk.action === "abandon" && !reason.trim())}>
              {verb} {count === undefined ? "" : num(count)}
            </button>
          </div>
        </form>
      ) : (
        <div class="stack" aria-live="polite">
          {operation ? (
            <>
              <progress max={Math.max(1, operation.total)} value={operation.processed} aria-label="Operation progress" />
              <p data-testid="bulk-progress">
                {num(operation.processed)} of {num(operation.total)} processed: {num(operation.succeeded)} done, {num(operation.failed)} failed
                {operation.status === "done" ? " · finished" : " · running"}
              </p>
              {operation.errors.length ? (
                <ul class="sample">
                  {operation.errors.slice(0, 10).map((e) => (
                    <li key={e.jobId}>
                      <code>{e.jobId}</code>: {e.error}
                    </li>
                  ))}
                </ul>
              ) : null}
            </>
          ) : selectedDone ? (
            <>
              <progress max={Math.max(1, count ?? 1)} value={selectedDone.ok + selectedDone.failed.length} aria-label="Progress" />
              <p data-testid="bulk-progress">
                {num(selectedDone.ok)} done, {num(selectedDone.failed.length)} failed of {num(count)}
              </p>
              {selectedDone.failed.map((f) => (
                <p key={f.jobId} class="warn">
                  <code>{f.jobId}</code>: {f.message}
                </p>
              ))}
            </>
          ) : null}
          <ErrorNote error={error} action="follow the operation" />
          <div class="actions">
            <button type="button" class="primary" onClick={() => onClose(true)}>
              {finished ? "Close" : "Close (it goes on)"}
            </button>
          </div>
        </div>
      )}
    </Dialog>
  );
}

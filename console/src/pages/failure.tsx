import { useState } from "preact/hooks";
import { api, tenantQuery, type FailureView, type HistoryEntry } from "../api";
import { asFailure, useInterval, useLoad } from "../hooks";
import { useLive, useLiveChange } from "../live";
import { links } from "../router";
import { Badge, Dialog, Empty, ErrorNote, Loading, num, Time } from "../ui";
import type { ApiFailure } from "../api";

type Mode = null | "abandon" | "edit";

const PAST: Record<string, string> = { requeue: "requeued", abandon: "abandoned" };

export function FailurePage({ tenant, jobId, canOperate }: { tenant: string; jobId: string; canOperate: boolean }) {
  const path = `/api/queue/dlq/failures/${encodeURIComponent(jobId)}`;
  const failure = useLoad(`f:${tenant}:${jobId}`, () => api<FailureView>(path, { query: tenantQuery(tenant) }));
  const history = useLoad(`h:${tenant}:${jobId}`, () => api<{ items: HistoryEntry[] }>(`${path}/history`, { query: tenantQuery(tenant) }));
  const [mode, setMode] = useState<Mode>(null);
  const [action, setAction] = useState<{ busy: boolean; error?: ApiFailure; done?: string }>({ busy: false });
  const reload = () => {
    failure.reload();
    history.reload();
  };
  const live = useLive(tenant);
  useLiveChange(live, (c) => c.truncated || c.failures.some((f) => f.jobId === jobId), reload);
  useInterval(reload, 5000, mode === null && live.status !== "live");

  async function act(kind: "requeue" | "abandon", body: unknown, done: string) {
    setAction({ busy: true });
    try {
      await api(`${path}/${kind}`, { method: "POST", query: tenantQuery(tenant), body });
      setAction({ busy: false, done });
      setMode(null);
      reload();
    } catch (e) {
      setAction({ busy: false, error: asFailure(e) });
    }
  }

  const f = failure.data;
  if (!f) {
    if (failure.error?.status === 404)
      return (
        <>
          <h1>
            {tenant} <span class="muted subtitle">failure not found</span>
          </h1>
          <Empty>
            No failure <code>{jobId}</code> in {tenant}. <a href={links.failures(tenant)}>Back to the list</a>
          </Empty>
        </>
      );
    return failure.error ? <ErrorNote error={failure.error} action="load this failure" /> : <Loading what="the failure" />;
  }
  const terminal = ["recovered", "presumed_recovered", "abandoned"].includes(f.status);
  const bodyText = renderBody(f);
  return (
    <>
      <p class="crumbs">
        <a href={links.failures(tenant)}>Failures</a> / <a href={links.failures(tenant, { group: f.group })}>group {f.group}</a>
      </p>
      <h1 class="job">
        <code>{f.jobId}</code> <Badge value={f.class} kind="class" /> <Badge value={f.status} kind="status" />
      </h1>
      <p class="muted">{f.reason}</p>
      {canOperate ? (
        <div class="toolbar">
          <button type="button" class="primary" disabled={action.busy || f.source !== "ledger"} onClick={() => act("requeue", {}, "Sent back to its origin queue.")}>
            Requeue
          </button>
          <button type="button" disabled={action.busy || f.source !== "ledger"} onClick={() => setMode("edit")}>
            Edit and requeue
          </button>
          <button type="button" class="danger" disabled={action.busy || f.source !== "ledger" || f.status === "abandoned"} onClick={() => setMode("abandon")}>
            Abandon
          </button>
          {f.source !== "ledger" ? <span class="muted">Evicted from the ledger: read from the archive, no actions.</span> : null}
          {action.done ? (
            <span class="ok" role="status">
              {action.done}
            </span>
          ) : null}
        </div>
      ) : null}
      <ErrorNote error={action.error} action="do that" />
      <div class="grid two">
        <section class="panel" aria-label="Error">
          <h2>Error</h2>
          {f.error ? (
            <>
              <p>
                <strong>{f.error.name}</strong>: {f.error.message}
                {f.error.status !== undefined ? <span class="muted"> · HTTP {f.error.status}</span> : null}
                {f.error.code ? <span class="muted"> · {f.error.code}</span> : null}
              </p>
              {f.error.stack ? <pre class="stack" aria-label="Stack trace">{f.error.stack}</pre> : null}
            </>
          ) : (
            <p class="muted">No error context: the platform dead-lettered this job itself (a crash, a timeout or a CPU limit).</p>
          )}
        </section>
        <section class="panel" aria-label="Facts">
          <h2>Facts</h2>
          <dl class="facts">
            <dt>Queue</dt>
            <dd>{f.queue}</dd>
            <dt>User</dt>
            <dd>{f.userId ?? <span class="muted">none</span>}</dd>
            <dt>Attempts</dt>
            <dd>{num(f.attempts)} before it was dead-lettered</dd>
            <dt>Occurrences</dt>
            <dd>{num(f.occurrences)}</dd>
            <dt>First failed</dt>
            <dd>
              <Time iso={f.firstFailedAt} />
            </dd>
            <dt>Last failed</dt>
            <dd>
              <Time iso={f.lastFailedAt} />
            </dd>
            <dt>Recovery</dt>
            <dd>
              {f.recovery ? (
                <>
                  {num(f.recovery.attempts)} automatic {f.recovery.attempts === 1 ? "retry" : "retries"}
                  {f.recovery.poison ? <span class="warn"> · poison</span> : null}
                  {f.recovery.note ? <div class="muted">{f.recovery.note}</div> : null}
                </>
              ) : (
                <span class="muted">{terminal ? "done" : "–"}</span>
              )}
            </dd>
            <dt>Archive</dt>
            <dd>{f.archive ? <code>{`${f.archive.key} @${f.archive.offset}+${f.archive.length}`}</code> : <span class="muted">not flushed yet</span>}</dd>
          </dl>
        </section>
      </div>
      <section class="panel" aria-label="Body">
        <h2>Body {f.bodyEncoding === "base64" ? <span class="muted">(raw bytes, shown as text)</span> : null}</h2>
        <pre class="body">{bodyText}</pre>
      </section>
      <section class="panel" aria-label="History">
        <h2>History</h2>
        <ErrorNote error={history.error} action="load the history" />
        {history.data?.items.length === 0 ? <p class="muted">Nobody has acted on this failure yet.</p> : null}
        {history.data?.items.length ? (
          <ol class="history">
            {history.data.items.map((h, i) => (
              <li key={`${h.at}-${i}`}>
                <strong>{PAST[h.action] ?? h.action}</strong> by {h.actor} <Time iso={h.at} />
                {h.operationId ? <span class="muted"> (bulk {h.operationId.slice(0, 11)})</span> : null}
                {h.detail ? (
                  <span class="muted">
                    {" "}
                    ·{" "}
                    {Object.entries(h.detail)
                      .map(([k, v]) => `${k}: ${v}`)
                      .join(", ")}
                  </span>
                ) : null}
              </li>
            ))}
          </ol>
        ) : null}
      </section>
      <Dialog title="Abandon this failure" open={mode === "abandon"} onClose={() => setMode(null)}>
        <AbandonForm busy={action.busy} error={action.error} onCancel={() => setMode(null)} onSubmit={(reason) => act("abandon", { reason }, "Abandoned.")} />
      </Dialog>
      <Dialog title="Edit and requeue" open={mode === "edit"} onClose={() => setMode(null)}>
        <EditForm
          initial={f.bodyEncoding === "base64" && typeof f.body === "string" ? textOf(f.body) : bodyText}
          json={f.bodyEncoding === "json"}
          busy={action.busy}
          error={action.error}
          onCancel={() => setMode(null)}
          onSubmit={(body) => act("requeue", { body, bodyEncoding: f.bodyEncoding === "json" ? "json" : "text" }, "Sent back with the edited body.")}
        />
      </Dialog>
    </>
  );
}

/** Raw bytes, shown and edited as UTF-8 text (invalid sequences become U+FFFD). */
function textOf(base64: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
}

function renderBody(f: FailureView): string {
  if (f.body === null || f.body === undefined) return "(no body)";
  if (f.bodyEncoding === "json") return JSON.stringify(f.body, null, 2);
  return typeof f.body === "string" ? textOf(f.body) : String(f.body);
}

function AbandonForm({ busy, error, onCancel, onSubmit }: { busy: boolean; error?: ApiFailure; onCancel: () => void; onSubmit: (reason: string) => void }) {
  const [reason, setReason] = useState("");
  return (
    <form
      class="stack"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit(reason.trim());
      }}
    >
      <p>An abandoned failure is never retried again. The reason is kept in its history.</p>
      <label>
        Reason
        <input type="text" required maxLength={500} value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      </label>
      <ErrorNote error={error} action="abandon" />
      <div class="actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="danger" disabled={busy || !reason.trim()}>
          Abandon
        </button>
      </div>
    </form>
  );
}

function EditForm({ initial, json, busy, error, onCancel, onSubmit }: { initial: string; json: boolean; busy: boolean; error?: ApiFailure; onCancel: () => void; onSubmit: (body: unknown) => void }) {
  const [text, setText] = useState(initial);
  let problem: string | undefined;
  let parsed: unknown = text;
  if (json) {
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      problem = `Not valid JSON: ${(e as Error).message}`;
    }
  }
  const bytes = new TextEncoder().encode(text).byteLength;
  if (bytes > 128 * 1024) problem = `The body is ${num(bytes)} bytes; at most 131,072 fit in a queue message.`;
  return (
    <form
      class="stack"
      onSubmit={(e) => {
        e.preventDefault();
        if (!problem) onSubmit(parsed);
      }}
    >
      <p>The job is sent back to its origin queue with this body. The original stays in the archive; the history records both hashes.</p>
      <label>
        Body {json ? "(JSON)" : "(text)"}
        <textarea rows={16} spellcheck={false} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      </label>
      {problem ? (
        <p class="warn" role="alert">
          {problem}
        </p>
      ) : null}
      <ErrorNote error={error} action="requeue" />
      <div class="actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={busy || problem !== undefined}>
          Requeue with this body
        </button>
      </div>
    </form>
  );
}

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { FAILURE_CLASSES, FAILURE_STATUSES } from "../../../src/model";
import { api, tenantQuery, type Failure, type FailurePage } from "../api";
import { BulkDialog, type BulkAction } from "../bulk";
import { exportFailures } from "../export";
import { asFailure, useInterval, useListKeys, useLoad } from "../hooks";
import { useLive, useLiveChange } from "../live";
import { links, navigate } from "../router";
import { Badge, Empty, ErrorNote, Loading, num, Time } from "../ui";
import type { ApiFailure } from "../api";

const FILTER_KEYS = ["class", "status", "queue", "group", "q"] as const;
type Filters = Partial<Record<(typeof FILTER_KEYS)[number], string>>;

const PAGE = 50;

export function FailuresPage({ tenant, filters: params, canOperate }: { tenant: string; filters: URLSearchParams; canOperate: boolean }) {
  const filters: Filters = Object.fromEntries(FILTER_KEYS.flatMap((k) => (params.get(k) ? [[k, params.get(k)!]] : [])));
  const key = `${tenant}?${FILTER_KEYS.map((k) => `${k}=${filters[k] ?? ""}`).join("&")}`;
  const setFilters = (next: Filters) => navigate(links.failures(tenant, next), { replace: true });

  const first = useLoad(key, () => api<FailurePage>("/api/queue/dlq/failures", { query: tenantQuery(tenant, { ...filters, limit: PAGE }) }));
  const [items, setItems] = useState<Failure[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [more, setMore] = useState<{ busy: boolean; error?: ApiFailure }>({ busy: false });
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulk, setBulk] = useState<BulkAction | null>(null);
  const loadedKey = useRef<string>();

  // A new filter starts the list afresh; a reload of the same filter inserts what is new on top.
  useEffect(() => {
    const page = first.data;
    if (!page) return;
    if (loadedKey.current !== key) {
      loadedKey.current = key;
      setItems(page.items);
      setCursor(page.nextCursor);
      setSelected(new Set());
      setFresh(new Set());
      return;
    }
    setItems((current) => {
      const known = new Map(current.map((f) => [f.jobId, f]));
      const added = page.items.filter((f) => !known.has(f.jobId));
      for (const f of page.items) if (known.has(f.jobId)) known.set(f.jobId, f);
      if (added.length) setFresh(new Set(added.map((f) => f.jobId)));
      return [...added, ...current.map((f) => known.get(f.jobId)!)];
    });
  }, [first.data, key]);
  // New and changed failures arrive on the live socket; the first page is re-read with the
  // filters applied by the server, so what is inserted always matches them.
  const live = useLive(tenant);
  useLiveChange(live, (c) => c.failures.length > 0 || c.truncated, first.reload);
  useInterval(first.reload, 5000, live.status !== "live");

  async function loadMore() {
    if (!cursor) return;
    setMore({ busy: true });
    try {
      const page = await api<FailurePage>("/api/queue/dlq/failures", { query: tenantQuery(tenant, { ...filters, limit: PAGE, cursor }) });
      setItems((current) => {
        const known = new Set(current.map((f) => f.jobId));
        return [...current, ...page.items.filter((f) => !known.has(f.jobId))];
      });
      setCursor(page.nextCursor);
      setMore({ busy: false });
    } catch (e) {
      setMore({ busy: false, error: asFailure(e) });
    }
  }

  const active = useListKeys(items.length, (i) => navigate(links.failure(tenant, items[i]!.jobId)));
  const toggle = (jobId: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(jobId)) next.delete(jobId);
      else next.add(jobId);
      return next;
    });
  const allSelected = items.length > 0 && items.every((f) => selected.has(f.jobId));
  const bulkFilter = useMemo(() => {
    const { q: _, ...rest } = filters;
    return rest;
  }, [key]);

  return (
    <>
      <h1>
        {tenant} <span class="muted subtitle">failures</span>
      </h1>
      <FilterBar filters={filters} onChange={setFilters} />
      <div class="toolbar">
        <span class="muted" aria-live="polite">
          {first.data ? `${num(items.length)} shown${cursor ? ", more below" : ""}` : ""}
        </span>
        <span class="spacer" />
        {canOperate ? (
          <>
            {selected.size > 0 ? (
              <>
                <button type="button" onClick={() => setBulk({ kind: "selected", action: "requeue", jobIds: [...selected] })}>
                  Requeue selected ({selected.size})
                </button>
                <button type="button" class="danger" onClick={() => setBulk({ kind: "selected", action: "abandon", jobIds: [...selected] })}>
                  Abandon selected ({selected.size})
                </button>
              </>
            ) : null}
            <button type="button" disabled={Boolean(filters.q)} title={filters.q ? "Bulk actions use the filters above, not the search text" : undefined} onClick={() => setBulk({ kind: "filter", action: "requeue", filter: bulkFilter })}>
              Requeue all matching
            </button>
            <button type="button" class="danger" disabled={Boolean(filters.q)} onClick={() => setBulk({ kind: "filter", action: "abandon", filter: bulkFilter })}>
              Abandon all matching
            </button>
          </>
        ) : null}
        <ExportMenu tenant={tenant} filters={filters} />
      </div>
      <ErrorNote error={first.error} action="load the failures" />
      {!first.data ? (
        first.loading ? <Loading what="failures" /> : null
      ) : items.length === 0 ? (
        <Empty>
          {Object.keys(filters).length ? (
            <>
              Nothing matches these filters{cursor ? " in the newest failures looked at" : ""}.{" "}
              {cursor ? (
                <button type="button" class="link" onClick={loadMore}>
                  Look further back
                </button>
              ) : (
                <a href={links.failures(tenant)}>Clear the filters</a>
              )}
            </>
          ) : (
            "No failures recorded for this tenant yet."
          )}
        </Empty>
      ) : (
        <table class="list" aria-label="Failures">
          <thead>
            <tr>
              {canOperate ? (
                <th scope="col" class="check">
                  <input
                    type="checkbox"
                    aria-label="Select all shown"
                    checked={allSelected}
                    onChange={() => setSelected(allSelected ? new Set() : new Set(items.map((f) => f.jobId)))}
                  />
                </th>
              ) : null}
              <th scope="col">Job</th>
              <th scope="col">Class</th>
              <th scope="col">Status</th>
              <th scope="col">Queue</th>
              <th scope="col">Error</th>
              <th scope="col" class="n">Attempts</th>
              <th scope="col" class="n">Seen</th>
              <th scope="col">Last failed</th>
            </tr>
          </thead>
          <tbody>
            {items.map((f, i) => (
              <tr key={f.jobId} data-row={i} class={[i === active ? "active" : "", fresh.has(f.jobId) ? "fresh" : ""].join(" ").trim() || undefined}>
                {canOperate ? (
                  <td class="check">
                    <input type="checkbox" aria-label={`Select ${f.jobId}`} checked={selected.has(f.jobId)} onChange={() => toggle(f.jobId)} />
                  </td>
                ) : null}
                <th scope="row">
                  <a href={links.failure(tenant, f.jobId)}>{f.jobId}</a>
                </th>
                <td>
                  <Badge value={f.class} kind="class" />
                </td>
                <td>
                  <Badge value={f.status} kind="status" />
                </td>
                <td>{f.queue}</td>
                <td class="message" title={f.reason}>
                  {f.error ? f.error.message : <span class="muted">{f.reason}</span>}
                </td>
                <td class="n">{num(f.attempts)}</td>
                <td class="n">{num(f.occurrences)}</td>
                <td>
                  <Time iso={f.lastFailedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && items.length > 0 ? (
        <div class="more">
          <button type="button" onClick={loadMore} disabled={more.busy}>
            {more.busy ? "Loading…" : "Load more"}
          </button>
        </div>
      ) : null}
      <ErrorNote error={more.error} action="load more failures" />
      {bulk ? (
        <BulkDialog
          tenant={tenant}
          bulk={bulk}
          onClose={(changed) => {
            setBulk(null);
            if (changed) {
              setSelected(new Set());
              first.reload();
            }
          }}
        />
      ) : null}
    </>
  );
}

function FilterBar({ filters, onChange }: { filters: Filters; onChange: (f: Filters) => void }) {
  const [q, setQ] = useState(filters.q ?? "");
  const [queue, setQueue] = useState(filters.queue ?? "");
  useEffect(() => setQ(filters.q ?? ""), [filters.q]);
  useEffect(() => setQueue(filters.queue ?? ""), [filters.queue]);
  const set = (k: keyof Filters, v: string) => onChange({ ...filters, [k]: v || undefined });
  return (
    <form
      class="filters"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        onChange({ ...filters, q: q.trim() || undefined, queue: queue.trim() || undefined });
      }}
    >
      <label>
        Search
        <input data-search type="search" placeholder="job id, error, reason, body…  ( / )" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
      </label>
      <Choice label="Class" value={filters.class} options={FAILURE_CLASSES} onChange={(v) => set("class", v)} />
      <Choice label="Status" value={filters.status} options={FAILURE_STATUSES} onChange={(v) => set("status", v)} />
      <label>
        Queue
        <input type="text" value={queue} size={10} onInput={(e) => setQueue((e.target as HTMLInputElement).value)} onBlur={() => queue.trim() !== (filters.queue ?? "") && set("queue", queue.trim())} />
      </label>
      {filters.group ? (
        <span class="chip">
          group <code>{filters.group}</code>
          <button type="button" class="link" aria-label="Clear the group filter" onClick={() => set("group", "")}>
            ×
          </button>
        </span>
      ) : null}
      <button type="submit" class="primary">
        Apply
      </button>
    </form>
  );
}

function Choice({ label, value, options, onChange }: { label: string; value: string | undefined; options: readonly string[]; onChange: (v: string) => void }) {
  return (
    <label>
      {label}
      <select value={value ?? ""} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        <option value="">any</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o.replaceAll("_", " ")}
          </option>
        ))}
      </select>
    </label>
  );
}

function ExportMenu({ tenant, filters }: { tenant: string; filters: Filters }) {
  const [state, setState] = useState<{ busy: boolean; done?: string; error?: ApiFailure }>({ busy: false });
  const run = async (format: "csv" | "ndjson") => {
    setState({ busy: true });
    try {
      const count = await exportFailures(tenant, filters, format);
      setState({ busy: false, done: `${num(count)} exported` });
    } catch (e) {
      setState({ busy: false, error: asFailure(e) });
    }
  };
  return (
    <span class="export">
      <button type="button" disabled={state.busy} onClick={() => run("csv")}>
        Export CSV
      </button>
      <button type="button" disabled={state.busy} onClick={() => run("ndjson")}>
        Export NDJSON
      </button>
      {state.busy ? <span class="muted"> exporting…</span> : state.done ? <span class="muted"> {state.done}</span> : null}
      {state.error ? <span class="warn"> export failed: {state.error.message}</span> : null}
    </span>
  );
}

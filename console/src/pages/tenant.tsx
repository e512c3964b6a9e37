import { api, tenantQuery, type OperationList, type Stats } from "../api";
import { useInterval, useLoad } from "../hooks";
import { FailureChart } from "../chart";
import { useLive, useLiveChange } from "../live";
import { links } from "../router";
import { Badge, Breakdown, Card, Empty, ErrorNote, Loading, num, Time } from "../ui";

/** One tenant at a glance, from its ledger's live counters. */
export function TenantPage({ tenant }: { tenant: string }) {
  const stats = useLoad(`stats:${tenant}`, () => api<Stats>("/api/queue/dlq/stats", { query: tenantQuery(tenant) }));
  const operations = useLoad(`ops:${tenant}`, () => api<OperationList>("/api/queue/dlq/operations", { query: tenantQuery(tenant, { limit: 5 }) }));
  const live = useLive(tenant);
  // Live: the ledger pushes its counters; polled only while the socket is down.
  useInterval(() => {
    stats.reload();
    operations.reload();
  }, 5000, live.status !== "live");
  useLiveChange(live, (c) => c.operations.length > 0 || c.truncated, operations.reload);

  const s = live.stats ?? stats.data;
  return (
    <>
      <h1>
        {tenant} <span class="muted subtitle">overview</span>
      </h1>
      {live.stats ? null : <ErrorNote error={stats.error} action="load this tenant's counters" />}
      {!s ? (
        stats.loading || live.status === "connecting" ? <Loading what="counters" /> : null
      ) : s.total === 0 ? (
        <Empty>
          No failures recorded for <strong>{tenant}</strong>. When a job of this tenant fails for good it is listed here; check that the
          producer puts <code>tenantId: "{tenant}"</code> in its job bodies.
        </Empty>
      ) : (
        <>
          <div class="cards">
            <Card label="Failures" value={<a href={links.failures(tenant)}>{num(s.total)}</a>} hint={`${num(s.occurrences)} occurrences`} />
            <Card label="Last 24 h" value={num(s.last24h)} />
            <Card label="Recovery queue" value={num(s.recoveryQueueSize)} hint={<>open or <a href={links.failures(tenant, { status: "exhausted" })}>exhausted</a>: waiting for a person</>} />
            <Card label="Groups" value={<a href={links.groups(tenant)}>{num(s.groups)}</a>} />
            <Card label="Evicted" value={num(s.evicted)} hint="aged out of the ledger; still in D1 and R2" />
          </div>
          <FailureChart tenant={tenant} />
          <div class="grid">
            <Breakdown title="By class" counts={s.byClass} kind="class" />
            <Breakdown title="By status" counts={s.byStatus} kind="status" />
            <Breakdown title="By queue" counts={s.byQueue} />
          </div>
        </>
      )}
      {s ? (
        <div class="grid">
          <Circuits circuits={s.circuits} />
          <Health stats={s} />
        </div>
      ) : null}
      <section class="panel" aria-label="Recent operations">
        <h2>Recent operations</h2>
        <ErrorNote error={operations.error} action="load the operations" />
        {operations.data?.items.length === 0 ? <p class="muted">No bulk operations yet. Start one from the failures list ("Requeue all matching").</p> : null}
        {operations.data?.items.length ? (
          <table class="list compact">
            <thead>
              <tr>
                <th scope="col">Action</th>
                <th scope="col">Filter</th>
                <th scope="col">By</th>
                <th scope="col">Started</th>
                <th scope="col">Progress</th>
              </tr>
            </thead>
            <tbody>
              {operations.data.items.map((op) => (
                <tr key={op.id}>
                  <td>{op.action}</td>
                  <td>
                    <code>{describeFilter(op.filter)}</code>
                  </td>
                  <td>{op.createdBy}</td>
                  <td>
                    <Time iso={op.createdAt} />
                  </td>
                  <td>
                    <progress max={Math.max(1, op.total)} value={op.processed} aria-label={`${op.action} progress`} /> {num(op.processed)} / {num(op.total)}
                    {op.failed ? <span class="warn"> · {num(op.failed)} failed</span> : null}
                    {op.status === "done" ? <span class="muted"> · done</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
    </>
  );
}

const plural = (n: number, one: string, many: string) => `${num(n)} ${n === 1 ? one : many}`;

export function describeFilter(filter: Record<string, unknown>): string {
  const parts = Object.entries(filter)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === "number" && (k === "from" || k === "to") ? new Date(v).toISOString() : String(v)}`);
  return parts.length ? parts.join(" ") : "everything";
}

function Circuits({ circuits }: { circuits: Stats["circuits"] }) {
  const entries = Object.entries(circuits);
  return (
    <section class="panel" aria-label="Circuit breakers">
      <h2>Circuit breakers</h2>
      {entries.length === 0 ? (
        <p class="muted">No origin queue has been retried yet.</p>
      ) : (
        <table class="list compact">
          <thead>
            <tr>
              <th scope="col">Origin queue</th>
              <th scope="col">State</th>
              <th scope="col" class="n">Recent failures</th>
              <th scope="col">Opened</th>
            </tr>
          </thead>
          <tbody>
            {entries.map(([queue, c]) => (
              <tr key={queue}>
                <td>{queue}</td>
                <td>
                  <Badge value={c.state} kind="state" />
                </td>
                <td class="n">{num(c.recentFailures)}</td>
                <td>{c.openedAt ? <Time iso={c.openedAt} /> : "–"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Health({ stats }: { stats: Stats }) {
  const o = stats.outbox;
  const healthy = o.consecutiveFlushFailures === 0;
  return (
    <section class="panel" aria-label="Delivery health">
      <h2>Archive and notifications</h2>
      <dl class="facts">
        <dt>Outbox</dt>
        <dd>
          <Badge value={healthy ? "healthy" : "failing"} kind="state" /> {num(o.pendingRows)} pending
          {o.oldestPendingAgeMs !== null ? `, oldest ${Math.round(o.oldestPendingAgeMs / 1000)} s` : ""}
        </dd>
        <dt>Last flush</dt>
        <dd>
          <Time iso={o.lastFlushAt} />
          {o.lastFlushError ? (
            <span class="warn">
              {" "}
              · last error <Time iso={o.lastFlushError.at} />: {o.lastFlushError.message}
            </span>
          ) : null}
        </dd>
        <dt>Archived</dt>
        <dd>
          {plural(stats.archive.flushes, "flush", "flushes")}, {plural(stats.archive.segments, "R2 segment", "R2 segments")}
        </dd>
        <dt>User notices</dt>
        <dd>{stats.notifications ? `${num(stats.notifications.sent)} sent, ${num(stats.notifications.suppressed)} folded into digests` : "–"}</dd>
        <dt>Recovery</dt>
        <dd>
          {num(stats.recovery.retriesSent)} retries sent, {num(stats.recovery.recovered)} recovered, {num(stats.recovery.presumedRecovered)} presumed,{" "}
          {num(stats.recovery.exhausted)} exhausted
        </dd>
      </dl>
    </section>
  );
}

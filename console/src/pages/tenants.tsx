import { FAILURE_CLASSES } from "../../../src/model";
import { api, type CrossTenant } from "../api";
import { useInterval, useListKeys, useLoad } from "../hooks";
import { links, navigate } from "../router";
import { Badge, Card, Empty, ErrorNote, Loading, num } from "../ui";

/** The admin's start page: every tenant's totals, from D1 (they trail the ledgers by the flush delay). */
export function TenantsPage() {
  const stats = useLoad("tenants", () => api<CrossTenant>("/api/queue/dlq/stats", { query: { limit: 1000 } }));
  useInterval(stats.reload, 10_000);
  const tenants = stats.data?.tenants ?? [];
  const active = useListKeys(tenants.length, (i) => navigate(links.tenant(tenants[i]!.tenant)));

  return (
    <>
      <h1>Tenants</h1>
      <ErrorNote error={stats.error} action="load the tenants" />
      {!stats.data ? (
        stats.loading ? <Loading what="tenants" /> : null
      ) : (
        <>
          <div class="cards">
            <Card label="Failures" value={num(stats.data.total)} hint="all tenants, as flushed to D1" />
            <Card label="Tenants" value={num(stats.data.tenantCount)} />
            <Card label="Open" value={num(stats.data.byStatus.open)} />
            <Card label="Exhausted" value={num(stats.data.byStatus.exhausted)} hint="automatic recovery gave up" />
          </div>
          {tenants.length === 0 ? (
            <Empty>
              No failures recorded yet. Wrap a queue consumer with <code>withFailureCapture</code> and point its dead-letter queue at this
              worker's DLQ; failures appear here within seconds of being flushed.
            </Empty>
          ) : (
            <table class="list" aria-label="Tenants">
              <thead>
                <tr>
                  <th scope="col">Tenant</th>
                  <th scope="col" class="n">Total</th>
                  {FAILURE_CLASSES.map((c) => (
                    <th key={c} scope="col" class="n">
                      <Badge value={c} kind="class" />
                    </th>
                  ))}
                  <th scope="col" class="n">Open</th>
                  <th scope="col" class="n">Exhausted</th>
                </tr>
              </thead>
              <tbody>
                {tenants.map((t, i) => (
                  <tr key={t.tenant} data-row={i} class={i === active ? "active" : undefined}>
                    <th scope="row">
                      <a href={links.tenant(t.tenant)}>{t.tenant}</a>
                    </th>
                    <td class="n">{num(t.total)}</td>
                    {FAILURE_CLASSES.map((c) => (
                      <td key={c} class="n">
                        {num(t.byClass[c])}
                      </td>
                    ))}
                    <td class="n">{num(t.byStatus.open)}</td>
                    <td class="n">{num(t.byStatus.exhausted)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </>
  );
}

import { api, tenantQuery, type Group } from "../api";
import { useInterval, useListKeys, useLoad } from "../hooks";
import { useLive, useLiveChange } from "../live";
import { links, navigate } from "../router";
import { Badge, Empty, ErrorNote, Loading, num, Time } from "../ui";

/** Failures with the same error and job type, most recently seen first (as Sentry groups issues). */
export function GroupsPage({ tenant }: { tenant: string }) {
  const groups = useLoad(`groups:${tenant}`, () => api<{ items: Group[] }>("/api/queue/dlq/groups", { query: tenantQuery(tenant, { limit: 200 }) }));
  const live = useLive(tenant);
  useLiveChange(live, (c) => c.groups.length > 0 || c.truncated, groups.reload);
  useInterval(groups.reload, 10_000, live.status !== "live");
  const items = groups.data?.items ?? [];
  const active = useListKeys(items.length, (i) => navigate(links.failures(tenant, { group: items[i]!.fingerprint })));

  return (
    <>
      <h1>
        {tenant} <span class="muted subtitle">groups</span>
      </h1>
      <ErrorNote error={groups.error} action="load the groups" />
      {!groups.data ? (
        groups.loading ? <Loading what="groups" /> : null
      ) : items.length === 0 ? (
        <Empty>No failure groups yet: a group appears with the first failure of a new kind.</Empty>
      ) : (
        <table class="list" aria-label="Failure groups">
          <thead>
            <tr>
              <th scope="col">Error</th>
              <th scope="col">Class</th>
              <th scope="col">Queue</th>
              <th scope="col" class="n">Count</th>
              <th scope="col">Last 24 h</th>
              <th scope="col">First seen</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {items.map((g, i) => (
              <tr key={g.fingerprint} data-row={i} class={i === active ? "active" : undefined}>
                <td class="message">
                  <a href={links.failures(tenant, { group: g.fingerprint })}>
                    <strong>{g.errorName}</strong> {g.messageSample}
                  </a>
                </td>
                <td>
                  <Badge value={g.class} kind="class" />
                </td>
                <td>{g.queue}</td>
                <td class="n">{num(g.count)}</td>
                <td>
                  <Sparkline points={g.sparkline} label={`Failures per hour, last 24 h, of ${g.errorName}`} />
                </td>
                <td>
                  <Time iso={g.firstSeen} />
                </td>
                <td>
                  <Time iso={g.lastSeen} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** A tiny line of counts; nothing when the API has no trend for the group. */
export function Sparkline({ points, label }: { points: number[] | undefined; label: string }) {
  if (!points || points.length < 2) return <span class="muted">–</span>;
  const max = Math.max(1, ...points);
  const w = 80;
  const h = 20;
  const step = w / (points.length - 1);
  const d = points.map((p, i) => `${i === 0 ? "M" : "L"}${(i * step).toFixed(1)},${(h - (p / max) * (h - 2) - 1).toFixed(1)}`).join(" ");
  return (
    <svg class="sparkline" width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`${label}: ${points.join(", ")}`}>
      <path d={d} />
    </svg>
  );
}

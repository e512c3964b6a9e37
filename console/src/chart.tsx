// Failures over time: the series the ledger keeps per minute (last hour), hour (24 h) and day
// (14 days), drawn as bars, with the numbers in the accessible name.

import { useState } from "preact/hooks";
import { api, tenantQuery, type Series } from "./api";
import { useInterval, useLoad } from "./hooks";
import { useLive, useLiveChange } from "./live";
import { ErrorNote, Loading, num } from "./ui";

const RANGES = [
  { key: "minutes", label: "Last hour", tick: (d: Date) => d.toISOString().slice(11, 16) },
  { key: "hours", label: "24 hours", tick: (d: Date) => `${d.toISOString().slice(11, 13)}h` },
  { key: "days", label: "14 days", tick: (d: Date) => d.toISOString().slice(5, 10) },
] as const;

export function FailureChart({ tenant, group }: { tenant: string; group?: string }) {
  const [range, setRange] = useState<(typeof RANGES)[number]["key"]>("hours");
  const series = useLoad(`series:${tenant}:${group ?? ""}`, () => api<Series>("/api/queue/dlq/series", { query: tenantQuery(tenant, { group }) }));
  const live = useLive(tenant);
  useLiveChange(live, (c) => c.failures.length > 0, series.reload);
  useInterval(series.reload, 30_000);
  const data = series.data?.[range];
  const chosen = RANGES.find((r) => r.key === range)!;
  const total = data ? data.counts.reduce((a, b) => a + b, 0) : 0;
  return (
    <section class="panel" aria-label="Failures over time">
      <div class="panel-head">
        <h2>Failures over time</h2>
        <div class="segmented" role="group" aria-label="Range">
          {RANGES.map((r) => (
            <button key={r.key} type="button" aria-pressed={r.key === range} onClick={() => setRange(r.key)}>
              {r.label}
            </button>
          ))}
        </div>
      </div>
      <ErrorNote error={series.error} action="load the series" />
      {data ? <Bars counts={data.counts} start={Date.parse(data.start)} stepMs={data.stepSeconds * 1000} tick={chosen.tick} label={`${chosen.label}: ${num(total)} failures`} /> : series.error ? null : (
        <Loading what="the series" />
      )}
    </section>
  );
}

function Bars({ counts, start, stepMs, tick, label }: { counts: number[]; start: number; stepMs: number; tick: (d: Date) => string; label: string }) {
  const max = Math.max(1, ...counts);
  const w = 720;
  const h = 150;
  const pad = 18;
  const slot = w / counts.length;
  const every = Math.ceil(counts.length / 8);
  return (
    <svg class="chart" viewBox={`0 0 ${w} ${h + pad}`} preserveAspectRatio="none" role="img" aria-label={`${label} (${counts.join(", ")})`}>
      <line x1="0" x2={w} y1={h} y2={h} class="axis" />
      {counts.map((n, i) => {
        const bh = n === 0 ? 0 : Math.max(2, (n / max) * (h - 12));
        return (
          <rect key={i} x={i * slot + slot * 0.12} y={h - bh} width={slot * 0.76} height={bh}>
            <title>{`${tick(new Date(start + i * stepMs))}: ${num(n)}`}</title>
          </rect>
        );
      })}
      {counts.map((_, i) =>
        i % every === 0 ? (
          <text key={`t${i}`} x={i === 0 ? 0 : i * slot + slot / 2} y={h + 13} text-anchor={i === 0 ? "start" : "middle"}>
            {tick(new Date(start + i * stepMs))}
          </text>
        ) : null,
      )}
      <text x={w - 2} y={10} text-anchor="end">
        max {num(max)}
      </text>
    </svg>
  );
}

// Small shared pieces: numbers, times, badges, notes for errors and empty states, a dialog.

import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { ApiFailure } from "./api";

const numberFormat = new Intl.NumberFormat("en");
export const num = (n: number | null | undefined) => (n === null || n === undefined ? "–" : numberFormat.format(n));

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (seconds < 0) return `in ${span(-seconds)}`;
  if (seconds < 5) return "just now";
  return `${span(seconds)} ago`;
}

function span(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="muted">never</span>;
  return (
    <time dateTime={iso} title={new Date(iso).toLocaleString()}>
      {ago(iso)}
    </time>
  );
}

export function Badge({ value, kind }: { value: string; kind: "class" | "status" | "state" | "scope" }) {
  return <span class={`badge ${kind}-${value.toLowerCase().replaceAll("_", "-")}`}>{value.replaceAll("_", " ")}</span>;
}

export function ErrorNote({ error, action }: { error: ApiFailure | undefined; action?: string }) {
  if (!error) return null;
  return (
    <div class="note error" role="alert">
      <strong>{action ? `Could not ${action}` : "Something went wrong"}:</strong> {error.message}
      {error.status ? <span class="muted"> (HTTP {error.status}, {error.code})</span> : null}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="note empty">{children}</div>;
}

export function Loading({ what }: { what: string }) {
  return (
    <div class="note loading" aria-busy="true">
      Loading {what}…
    </div>
  );
}

export function Card({ label, value, hint }: { label: string; value: ComponentChildren; hint?: ComponentChildren }) {
  return (
    <div class="card">
      <div class="card-label">{label}</div>
      <div class="card-value">{value}</div>
      {hint ? <div class="card-hint">{hint}</div> : null}
    </div>
  );
}

/** A modal <dialog>: focus moves into it, Escape closes it. */
export function Dialog({ title, open, onClose, children }: { title: string; open: boolean; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-label={title} onClose={onClose} onCancel={onClose}>
      <h2>{title}</h2>
      {open ? children : null}
    </dialog>
  );
}

/** A counts-by-key table as a row of labelled bars. */
export function Breakdown({ title, counts, kind }: { title: string; counts: Record<string, number>; kind?: "class" | "status" }) {
  const entries = Object.entries(counts);
  const max = Math.max(1, ...entries.map(([, n]) => n));
  return (
    <section class="panel" aria-label={title}>
      <h2>{title}</h2>
      {entries.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <ul class="bars">
          {entries.map(([key, n]) => (
            <li key={key}>
              <span class="bar-label">{kind ? <Badge value={key} kind={kind} /> : key}</span>
              <span class="bar-track" aria-hidden="true">
                <span class={`bar-fill ${kind ? `${kind}-${key.toLowerCase().replaceAll("_", "-")}` : ""}`} style={{ width: `${(100 * n) / max}%` }} />
              </span>
              <span class="bar-value">{num(n)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

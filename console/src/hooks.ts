import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiFailure } from "./api";

export interface Loaded<T> {
  data: T | undefined;
  error: ApiFailure | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `key` changes (and on reload); a stale answer never overwrites a newer one. */
export function useLoad<T>(key: string, load: () => Promise<T>): Loaded<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: ApiFailure; loading: boolean }>({ key, loading: true });
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const run = ++latest.current;
    // A reload keeps what is shown until the answer comes; a new key shows nothing stale.
    setState((s) => (s.key === key ? { ...s, loading: true } : { key, loading: true }));
    load().then(
      (data) => run === latest.current && setState({ key, data, loading: false }),
      (error: unknown) => run === latest.current && setState((s) => ({ key, data: s.key === key ? s.data : undefined, error: asFailure(error), loading: false })),
    );
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const current = state.key === key;
  return { data: current ? state.data : undefined, error: current ? state.error : undefined, loading: !current || state.loading, reload };
}

export function asFailure(error: unknown): ApiFailure {
  return error instanceof ApiFailure ? error : new ApiFailure(0, "client_error", error instanceof Error ? error.message : String(error));
}

/** Calls `tick` every `ms` while the tab is visible; hidden tabs do not poll. */
export function useInterval(tick: () => void, ms: number, enabled = true): void {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    if (!enabled) return;
    const id = setInterval(() => document.visibilityState === "visible" && saved.current(), ms);
    return () => clearInterval(id);
  }, [ms, enabled]);
}

/** j / k move through a list, Enter opens, `/` focuses the search field; never while typing. */
export function useListKeys(count: number, open: (index: number) => void): number {
  const [active, setActive] = useState(-1);
  // The handler reads and moves the position through refs, so a key pressed before the next
  // render still sees where the previous one left it.
  const position = useRef(-1);
  const latest = useRef({ count, open });
  latest.current = { count, open };
  const move = useCallback((i: number) => {
    position.current = i;
    setActive(i);
  }, []);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
      if (event.metaKey || event.ctrlKey || event.altKey) return;
      const { count, open } = latest.current;
      const at = Math.min(position.current, count - 1);
      if (event.key === "j") move(Math.min(count - 1, at + 1));
      else if (event.key === "k") move(Math.max(0, at - 1));
      else if (event.key === "Enter" && at >= 0) open(at);
      else return;
      event.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
  useEffect(() => {
    if (active >= 0) document.querySelector(`[data-row="${active}"]`)?.scrollIntoView({ block: "nearest" });
  }, [active]);
  return active;
}

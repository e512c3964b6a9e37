// URLs are the console's state, so any view can be shared as a link: /console/tenants/:tenant,
// .../groups, .../failures?class=&status=&queue=&group=&q=, .../failures/:jobId, /console/parking,
// /console/tokens. Navigation is history.pushState; links are plain <a href>.

import { useEffect, useState } from "preact/hooks";

export const BASE = "/console";

export type View =
  | { page: "home" }
  | { page: "tenant"; tenant: string }
  | { page: "groups"; tenant: string }
  | { page: "failures"; tenant: string; filters: URLSearchParams }
  | { page: "failure"; tenant: string; jobId: string }
  | { page: "parking" }
  | { page: "tokens" }
  | { page: "missing"; path: string };

export function parse(location: { pathname: string; search: string }): View {
  const rest = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  const parts = rest.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: "home" };
  if (parts[0] === "parking" && parts.length === 1) return { page: "parking" };
  if (parts[0] === "tokens" && parts.length === 1) return { page: "tokens" };
  if (parts[0] === "tenants" && parts[1]) {
    const tenant = parts[1];
    if (parts.length === 2) return { page: "tenant", tenant };
    if (parts[2] === "groups" && parts.length === 3) return { page: "groups", tenant };
    if (parts[2] === "failures" && parts.length === 3) return { page: "failures", tenant, filters: new URLSearchParams(location.search) };
    if (parts[2] === "failures" && parts.length === 4) return { page: "failure", tenant, jobId: parts[3]! };
  }
  return { page: "missing", path: location.pathname };
}

const enc = encodeURIComponent;
export const links = {
  home: () => `${BASE}/`,
  tenant: (t: string) => `${BASE}/tenants/${enc(t)}`,
  groups: (t: string) => `${BASE}/tenants/${enc(t)}/groups`,
  failures: (t: string, filters: Record<string, string | undefined> = {}) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) params.set(k, v);
    const q = params.toString();
    return `${BASE}/tenants/${enc(t)}/failures${q ? `?${q}` : ""}`;
  },
  failure: (t: string, jobId: string) => `${BASE}/tenants/${enc(t)}/failures/${enc(jobId)}`,
  parking: () => `${BASE}/parking`,
  tokens: () => `${BASE}/tokens`,
};

const listeners = new Set<() => void>();

export function navigate(href: string, options: { replace?: boolean } = {}): void {
  if (href === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  for (const listener of listeners) listener();
  if (!options.replace) window.scrollTo(0, 0);
}

/** Same-origin links under /console/ navigate in place; anything else is a normal link. */
function onClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = (event.target as Element | null)?.closest?.("a");
  if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
  const url = new URL(anchor.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(`${BASE}/`)) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}

export function useView(): View {
  const [view, setView] = useState(() => parse(location));
  useEffect(() => {
    const update = () => setView(parse(location));
    listeners.add(update);
    window.addEventListener("popstate", update);
    document.addEventListener("click", onClick);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
      document.removeEventListener("click", onClick);
    };
  }, []);
  return view;
}

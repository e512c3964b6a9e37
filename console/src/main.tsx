// The operator console: a Preact app served by the worker at /console/.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, tokenStore, type Session } from "./api";
import { asFailure } from "./hooks";
import { closeAllFeeds, useLive } from "./live";
import { FailurePage } from "./pages/failure";
import { FailuresPage } from "./pages/failures";
import { GroupsPage } from "./pages/groups";
import { ParkingPage } from "./pages/parking";
import { TenantPage } from "./pages/tenant";
import { TenantsPage } from "./pages/tenants";
import { TokensPage } from "./pages/tokens";
import { links, navigate, useView, type View } from "./router";
import { SignIn } from "./signin";
import { Loading } from "./ui";

function App() {
  const view = useView();
  const [session, setSession] = useState<Session | null | undefined>(tokenStore.get() ? undefined : null);
  const [notice, setNotice] = useState<string>();

  useEffect(() => {
    if (session !== undefined) return;
    api<Session>("/api/session").then(setSession, (error) => {
      const failure = asFailure(error);
      tokenStore.clear();
      setNotice(failure.status === 401 ? "Your token is no longer valid; sign in again." : failure.message);
      setSession(null);
    });
  }, [session]);

  useEffect(() => {
    // A tenant token has one tenant: its home is that tenant.
    if (session && session.kind === "tenant" && view.page === "home") navigate(links.tenant(session.tenant!), { replace: true });
  }, [session, view.page]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (event.key !== "/" || (target && ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
      const search = document.querySelector<HTMLInputElement>("[data-search]");
      if (search) {
        event.preventDefault();
        search.focus();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  if (session === undefined) return <Loading what="your session" />;
  if (session === null)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(s) => {
          setNotice(undefined);
          setSession(s);
          // A deep link opened in a new tab stays where it points once signed in.
          if (s.kind === "tenant" && view.page === "home") navigate(links.tenant(s.tenant!), { replace: true });
        }}
      />
    );

  const signOut = () => {
    closeAllFeeds();
    tokenStore.clear();
    setSession(null);
    setNotice("Signed out. The token is forgotten.");
    navigate(links.home(), { replace: true });
  };
  return (
    <Shell session={session} view={view} onSignOut={signOut}>
      <Page session={session} view={view} />
    </Shell>
  );
}

const tenantOfView = (view: View) => ("tenant" in view ? view.tenant : undefined);

function Shell({ session, view, onSignOut, children }: { session: Session; view: View; onSignOut: () => void; children: preact.ComponentChildren }) {
  const tenant = tenantOfView(view) ?? (session.kind === "tenant" ? session.tenant! : undefined);
  const current = (page: View["page"] | View["page"][]) => ([page].flat().includes(view.page) ? "page" : undefined);
  return (
    <>
      <header class="top">
        <a class="brand" href={links.home()}>
          dlq-ledger
        </a>
        <nav aria-label="Main">
          {session.kind === "admin" ? (
            <a href={links.home()} aria-current={current("home")}>
              Tenants
            </a>
          ) : null}
          {tenant ? (
            <>
              <a href={links.tenant(tenant)} aria-current={current("tenant")}>
                Overview
              </a>
              <a href={links.groups(tenant)} aria-current={current("groups")}>
                Groups
              </a>
              <a href={links.failures(tenant)} aria-current={current(["failures", "failure"])}>
                Failures
              </a>
            </>
          ) : null}
          {session.kind === "admin" ? (
            <>
              <a href={links.parking()} aria-current={current("parking")}>
                Parking
              </a>
              <a href={links.failures("_quarantine")} aria-current={tenant === "_quarantine" ? "page" : undefined}>
                Quarantine
              </a>
              <a href={links.tokens()} aria-current={current("tokens")}>
                Tokens
              </a>
            </>
          ) : null}
        </nav>
        {tenant ? <LiveBadge tenant={tenant} /> : null}
        <div class="who">
          <span class="muted" title="Signed in as">
            {session.kind === "admin" ? "admin" : `${session.label} · ${session.tenant}`}
          </span>
          <span class={`badge scope-${session.scope}`}>{session.scope}</span>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main class="content">{children}</main>
    </>
  );
}

function LiveBadge({ tenant }: { tenant: string }) {
  const live = useLive(tenant);
  const text = live.status === "live" ? "live" : live.status === "connecting" ? "connecting…" : "offline: polling";
  return (
    <span class={`live live-${live.status}`} role="status" aria-label={`Live updates: ${text}`} title="Pushed by the tenant's ledger over a WebSocket">
      {text}
    </span>
  );
}

function Page({ session, view }: { session: Session; view: View }) {
  const canOperate = session.scope !== "read";
  switch (view.page) {
    case "home":
      return session.kind === "admin" ? <TenantsPage /> : <Loading what="your tenant" />;
    case "tenant":
      return <TenantPage tenant={view.tenant} />;
    case "groups":
      return <GroupsPage tenant={view.tenant} />;
    case "failures":
      return <FailuresPage tenant={view.tenant} filters={view.filters} canOperate={canOperate} />;
    case "failure":
      return <FailurePage tenant={view.tenant} jobId={view.jobId} canOperate={canOperate} />;
    case "parking":
      return <ParkingPage />;
    case "tokens":
      return <TokensPage />;
    case "missing":
      return (
        <>
          <h1>Page not found</h1>
          <div class="note empty">
            There is no page at <code>{view.path}</code>. <a href={links.home()}>Go to the start</a>.
          </div>
        </>
      );
  }
}

render(<App />, document.getElementById("app")!);

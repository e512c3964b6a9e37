import { useState } from "preact/hooks";
import { api, type CreatedToken, type Token } from "../api";
import { asFailure, useLoad } from "../hooks";
import { Badge, Empty, ErrorNote, Loading, Time } from "../ui";
import type { ApiFailure } from "../api";

type Scope = "read" | "operate";

/** Tenant tokens (admin only): create with a scope and label, list, revoke. */
export function TokensPage() {
  const [showRevoked, setShowRevoked] = useState(false);
  const tokens = useLoad(`tokens:${showRevoked}`, () => api<{ items: Token[] }>("/api/admin/tokens", { query: { revoked: String(showRevoked) } }));
  const [created, setCreated] = useState<CreatedToken>();
  const [error, setError] = useState<ApiFailure>();

  async function revoke(token: Token) {
    if (!confirm(`Revoke ${token.label} (${token.tenant})? It stops working at once.`)) return;
    try {
      await api(`/api/admin/tokens/${token.id}`, { method: "DELETE" });
      tokens.reload();
    } catch (e) {
      setError(asFailure(e));
    }
  }

  return (
    <>
      <h1>Tokens</h1>
      <CreateForm
        onCreated={(t) => {
          setCreated(t);
          tokens.reload();
        }}
      />
      {created ? (
        <div class="note ok" role="status">
          Token for <strong>{created.tenant}</strong> ({created.label}) created. Copy it now: it is shown this once.
          <pre class="secret" aria-label="The new token">{created.token}</pre>
          <button type="button" onClick={() => setCreated(undefined)}>
            I have copied it
          </button>
        </div>
      ) : null}
      <ErrorNote error={error} action="revoke the token" />
      <div class="toolbar">
        <label class="inline">
          <input type="checkbox" checked={showRevoked} onChange={() => setShowRevoked(!showRevoked)} /> Show revoked tokens
        </label>
      </div>
      <ErrorNote error={tokens.error} action="load the tokens" />
      {!tokens.data ? (
        tokens.loading ? <Loading what="tokens" /> : null
      ) : tokens.data.items.length === 0 ? (
        <Empty>No tenant tokens yet. Create one above and hand it to the team that runs that tenant's queues.</Empty>
      ) : (
        <table class="list" aria-label="Tokens">
          <thead>
            <tr>
              <th scope="col">Label</th>
              <th scope="col">Tenant</th>
              <th scope="col">Scope</th>
              <th scope="col">Created</th>
              <th scope="col">By</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {tokens.data.items.map((t) => (
              <tr key={t.id}>
                <th scope="row">{t.label}</th>
                <td>{t.tenant}</td>
                <td>
                  <Badge value={t.scope} kind="scope" />
                </td>
                <td>
                  <Time iso={t.createdAt} />
                </td>
                <td>{t.createdBy}</td>
                <td>{t.revokedAt ? <span class="muted">revoked <Time iso={t.revokedAt} /></span> : "active"}</td>
                <td>
                  {t.revokedAt ? null : (
                    <button type="button" class="danger" aria-label={`Revoke ${t.label} of ${t.tenant}`} onClick={() => revoke(t)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function CreateForm({ onCreated }: { onCreated: (token: CreatedToken) => void }) {
  const [tenant, setTenant] = useState("");
  const [label, setLabel] = useState("");
  const [scope, setScope] = useState<Scope>("read");
  const [state, setState] = useState<{ busy: boolean; error?: ApiFailure }>({ busy: false });
  return (
    <form
      class="filters panel"
      aria-label="Create a token"
      onSubmit={async (e) => {
        e.preventDefault();
        setState({ busy: true });
        try {
          onCreated(await api<CreatedToken>("/api/admin/tokens", { method: "POST", body: { tenant: tenant.trim(), label: label.trim(), scope } }));
          setLabel("");
          setState({ busy: false });
        } catch (err) {
          setState({ busy: false, error: asFailure(err) });
        }
      }}
    >
      <label>
        Tenant
        <input type="text" required value={tenant} onInput={(e) => setTenant((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        Label
        <input type="text" required placeholder="who holds it" value={label} onInput={(e) => setLabel((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        Scope
        <select value={scope} onChange={(e) => setScope((e.target as HTMLSelectElement).value as Scope)}>
          <option value="read">read: view only</option>
          <option value="operate">operate: also requeue and abandon</option>
        </select>
      </label>
      <button type="submit" class="primary" disabled={state.busy}>
        Create token
      </button>
      <ErrorNote error={state.error} action="create the token" />
    </form>
  );
}

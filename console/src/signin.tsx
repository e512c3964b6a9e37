import { useState } from "preact/hooks";
import { api, tokenStore, type Session } from "./api";
import { asFailure } from "./hooks";
import { ErrorNote } from "./ui";
import type { ApiFailure } from "./api";

/** One field, one button. The token is checked against the API before it is kept for this tab. */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (session: Session) => void; notice?: string }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<ApiFailure>();
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = await api<Session>("/api/session", { token: token.trim() });
      tokenStore.set(token.trim());
      onSignedIn(session);
    } catch (e) {
      setError(asFailure(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="signin">
      <form onSubmit={submit} class="panel">
        <h1>dlq-ledger</h1>
        <p class="muted">Failed jobs, recorded once, for every queue you run.</p>
        {notice ? <div class="note">{notice}</div> : null}
        <label for="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        <p class="hint">The admin token, or a tenant token (dlq_…). It is kept for this tab only.</p>
        <button type="submit" class="primary" disabled={busy || token.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <ErrorNote error={error} action="sign in" />
      </form>
    </main>
  );
}

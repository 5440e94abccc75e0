import { useEffect, useState, useSyncExternalStore } from "react"
import { useTokClient, useToken } from "@tok/react"
import {
  claimRows,
  countdown,
  createDemoPage,
  DEMO_BUFFER_SECONDS,
  describeApiAnswer,
  describeLifetime,
  describeRequests,
  describeStatus,
  lifetimeOf,
  shortJwt,
  type DemoConfig,
} from "@tok/demo-shared"

/** The demo page: the token from `useToken`, the rest from the shared page controller. */
export const App = ({ config }: { config: DemoConfig }) => {
  const client = useTokClient()
  // Sign-in and -out, the clock, the status's numbers, "Refresh now" and demo-api: the shared controller,
  // started before useToken subscribes, so it counts the page's first request.
  const [page] = useState(() => createDemoPage({ config, client }))
  const state = useSyncExternalStore(page.subscribe, page.getSnapshot)
  useEffect(() => {
    page.start()
    return page.stop
  }, [page])

  // "" is the session token; any other value names a JWT template.
  const [template, setTemplate] = useState("")
  const { token, status, error, expiresAt, refresh } = useToken({
    template: template === "" ? undefined : template,
  })
  const claims = claimRows(token)

  const shown = describeStatus({ status, error, expiresAt }, state.tracks[template], state.now)
  const api = state.api === null ? null : describeApiAnswer(state.api, template)
  // The latest JWT, for "Refresh now" to compare against after its awaits.
  const latest = useLatest(token)
  const onRefresh = () => void page.refreshNow(refresh, () => latest.current)
  // The API takes the session token, whichever template the page shows.
  const onCallApi = () =>
    void page.callApi(client.getToken().then((session) => session?.jwt ?? null))

  return (
    <main className="page">
      <header className="top">
        <h1>
          tok <span className="framework">demo · React</span>
        </h1>
        <nav aria-label="Demo apps">
          <a href="../vue/">Vue</a>
          <a href="../svelte/">Svelte</a>
          <a href="../angular/">Angular</a>
          <a href="../react/" aria-current="page">
            React
          </a>
        </nav>
      </header>

      <section className="card" aria-labelledby="h-session">
        <h2 id="h-session">Session</h2>
        <div className="row">
          <span role="status">
            <span className="pill" data-testid="status" data-status={status} data-tone={shown.tone}>
              {shown.label}
            </span>
          </span>
          <code className="muted" data-testid="session-id">
            {state.sessionId ?? "no session"}
          </code>
        </div>
        {shown.detail && (
          <p className="status-detail" data-testid="status-detail" data-tone={shown.tone}>
            {shown.detail}
          </p>
        )}
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault()
            void page.signIn()
          }}
        >
          <input
            value={state.userId}
            onChange={(event) => page.setUserId(event.target.value)}
            data-testid="user-id"
            aria-label="User id"
            disabled={state.sessionId !== null}
          />
          <button
            type="submit"
            data-testid="sign-in"
            disabled={state.busy || state.sessionId !== null}
          >
            Sign in
          </button>
          <button
            type="button"
            data-testid="sign-out"
            disabled={state.busy || state.sessionId === null}
            onClick={() => void page.signOut()}
          >
            Sign out
          </button>
        </form>
        {state.notice && (
          <p className="error" data-testid="notice" role="alert">
            {state.notice}
          </p>
        )}
      </section>

      <section className="card" aria-labelledby="h-api">
        <h2 id="h-api">API</h2>
        <div className="row">
          <button
            type="button"
            data-testid="call-api"
            aria-busy={state.apiPending}
            onClick={onCallApi}
          >
            {state.apiPending ? "Calling…" : "Call API"}
          </button>
          <span aria-live="polite">
            {state.apiPending ? (
              <span data-testid="api-pending">Getting a token, then calling demo-api…</span>
            ) : (
              api &&
              state.api && (
                <span
                  className="api-status"
                  data-testid="api-status"
                  data-status={state.api.noToken ? "no-token" : state.api.status}
                  data-tone={api.tone}
                >
                  {api.text}
                </span>
              )
            )}
          </span>
        </div>
        {state.api && (
          <pre data-testid="api-result" tabIndex={0} aria-label="demo-api's answer">
            {JSON.stringify(state.api.body, null, 2)}
          </pre>
        )}
      </section>

      <section className="card" aria-labelledby="h-token">
        <h2 id="h-token">Token</h2>
        <div className="row">
          <label>
            Template{" "}
            <select
              value={template}
              onChange={(event) => setTemplate(event.target.value)}
              data-testid="template"
            >
              <option value="">session token</option>
              {config.templates.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            data-testid="refresh"
            disabled={state.sessionId === null}
            aria-busy={state.refreshing}
            onClick={onRefresh}
          >
            {state.refreshing ? "Refreshing…" : "Refresh now"}
          </button>
        </div>
        {state.refreshNote && (
          <p className="status-detail" data-tone="warn" data-testid="refresh-note">
            {state.refreshNote}
          </p>
        )}
        <dl className="facts">
          <dt>JWT</dt>
          <dd>
            <code data-testid="jwt" data-jwt={token ?? ""} title={token ?? ""}>
              {token === null ? "—" : shortJwt(token)}
            </code>
          </dd>
          <dt>Expires in</dt>
          <dd>
            <span data-testid="countdown">
              {countdown(expiresAt, state.now, lifetimeOf(token))}
            </span>{" "}
            <span className="lifetime" data-testid="lifetime">
              {describeLifetime(token, DEMO_BUFFER_SECONDS)}
            </span>
          </dd>
          <dt>Token requests</dt>
          <dd data-testid="requests" data-page-count={state.requests}>
            {describeRequests(state.requests, state.retries, state.counts)}
          </dd>
        </dl>
        {claims.length > 0 && (
          <table className="claims" data-testid="claims">
            <caption className="muted">Claims of the token shown</caption>
            <tbody>
              {claims.map((claim) => (
                <tr key={claim.name} data-claim={claim.name}>
                  <th scope="row">{claim.name}</th>
                  <td>{claim.value}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </main>
  )
}

/** A ref that always holds the latest `value` (read after an await, not at render). */
const useLatest = <A,>(value: A) => {
  const [ref] = useState(() => ({ current: value }))
  ref.current = value
  return ref
}

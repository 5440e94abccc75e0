import { useEffect, useState, useSyncExternalStore } from "react"
import { useTokClient, useToken } from "@tok/react"
import {
  claimRows,
  countdown,
  createDemoPage,
  describeApiAnswer,
  describeCounts,
  describeError,
  shortJwt,
  statusLabel,
  type DemoConfig,
} from "@tok/demo-shared"

/** The demo page: the token from `useToken`, the rest from the shared page controller. */
export const App = ({ config }: { config: DemoConfig }) => {
  const client = useTokClient()
  // "" is the session token; any other value names a JWT template.
  const [template, setTemplate] = useState("")
  const { token, status, error, expiresAt, refresh } = useToken({
    template: template === "" ? undefined : template,
  })
  const claims = claimRows(token)

  // Sign-in and -out, the countdown's clock, the counters and demo-api: the shared controller.
  const [page] = useState(() => createDemoPage({ config, client }))
  const state = useSyncExternalStore(page.subscribe, page.getSnapshot)
  useEffect(() => {
    page.start()
    return page.stop
  }, [page])

  const [refreshing, setRefreshing] = useState(false)
  const onRefresh = async () => {
    setRefreshing(true)
    await refresh()
    setRefreshing(false)
  }
  // The API takes the session token, whichever template the page shows.
  const onCallApi = () =>
    void page.callApi(client.getToken().then((session) => session?.jwt ?? null))

  return (
    <main className="page">
      <header className="top">
        <h1>
          tok <span className="framework">demo · React</span>
        </h1>
        <nav>
          <a href="../vue/">Vue</a>
          <a href="../svelte/">Svelte</a>
          <a href="../angular/">Angular</a>
          <a href="../react/" aria-current="page">
            React
          </a>
        </nav>
      </header>

      <section className="card">
        <h2>Session</h2>
        <div className="row">
          <span className="pill" data-testid="status" data-status={status}>
            {statusLabel(status)}
          </span>
          <code className="muted" data-testid="session-id">
            {state.sessionId ?? "no session"}
          </code>
        </div>
        {error && (
          <p className="error" data-testid="error" role="alert">
            {describeError(error)}
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
          <p className="error" data-testid="notice">
            {state.notice}
          </p>
        )}
      </section>

      <section className="card">
        <h2>Token</h2>
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
            disabled={state.sessionId === null || refreshing}
            onClick={() => void onRefresh()}
          >
            Refresh now
          </button>
        </div>
        <dl className="facts">
          <dt>JWT</dt>
          <dd>
            <code data-testid="jwt" data-jwt={token ?? ""} title={token ?? ""}>
              {token === null ? "—" : shortJwt(token)}
            </code>
          </dd>
          <dt>Expires in</dt>
          <dd data-testid="countdown">{countdown(expiresAt, state.now)}</dd>
          <dt>Token requests</dt>
          <dd data-testid="requests" data-session-count={state.counts?.session ?? ""}>
            {describeCounts(state.counts)}
          </dd>
        </dl>
        {claims.length > 0 && (
          <table className="claims" data-testid="claims">
            <tbody>
              {claims.map((claim) => (
                <tr key={claim.name} data-claim={claim.name}>
                  <th>{claim.name}</th>
                  <td>{claim.value}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="card">
        <h2>API</h2>
        <div className="row">
          <button type="button" data-testid="call-api" onClick={onCallApi}>
            Call API
          </button>
          {state.api && (
            <span data-testid="api-status" data-status={state.api.status}>
              {describeApiAnswer(state.api)}
            </span>
          )}
        </div>
        {state.api && <pre data-testid="api-result">{JSON.stringify(state.api.body, null, 2)}</pre>}
      </section>
    </main>
  )
}

/**
 * The React demo: one tok client for the page, given to the tree with
 * `TokProvider`; the page (`App.tsx`) reads it with `useToken`.
 */
import { StrictMode } from "react"
import { createRoot } from "react-dom/client"
import { createTokenClient, TokProvider } from "@tok/react"
import { DEMO_BUFFER_SECONDS, startDemo } from "@tok/demo-shared"
import "@tok/demo-shared/style.css"
import { App } from "./App.tsx"

/** The adapter calls that drive the page, for its code panel. */
const CODE = `
// App.tsx — the token shown, kept fresh while the page is open:
const { token, status, error, expiresAt, refresh } = useToken({
  template: template === "" ? undefined : template,
})
// main.tsx — one client for the tree:
<TokProvider client={createTokenClient({ source, expirationBuffer: 5 })}>
// "Call API" — the session token, from the cache or one shared request:
const jwt = (await client.getToken())?.jwt
`

// A 5 s buffer (with the demo's 20 s tokens) shows a refresh in the first minute.
const root = document.querySelector<HTMLElement>("#app")!
await startDemo({
  adapter: "@tok/react",
  code: CODE,
  root,
  client: (source) => createTokenClient({ source, expirationBuffer: DEMO_BUFFER_SECONDS }),
  mount: (client, config) => {
    createRoot(root).render(
      <StrictMode>
        <TokProvider client={client}>
          <App config={config} />
        </TokProvider>
      </StrictMode>,
    )
  },
})

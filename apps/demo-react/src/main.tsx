/**
 * The React demo: one tok client for the page, given to the tree with
 * `TokProvider`; the page (`App.tsx`) reads it with `useToken`.
 */
import { StrictMode } from "react"
import { createRoot } from "react-dom/client"
import { createTokenClient, TokProvider } from "@tok/react"
import {
  DEMO_BUFFER_SECONDS,
  demoSource,
  loadConfig,
  showDevtools,
  showLab,
} from "@tok/demo-shared"
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

const root = document.querySelector<HTMLElement>("#app")!
try {
  const config = await loadConfig()
  // A Clerk development instance: the dev browser is set up as clerk-js would,
  // and the source is clerkFrontendApi({ publishableKey }) (see @tok/demo-shared).
  // A 5 s buffer (with the demo's 20 s tokens) shows a refresh in the first minute.
  const client = createTokenClient({
    source: await demoSource(config),
    expirationBuffer: DEMO_BUFFER_SECONDS,
  })
  showDevtools(client)
  showLab({ config, client, adapter: "@tok/react", code: CODE })
  createRoot(root).render(
    <StrictMode>
      <TokProvider client={client}>
        <App config={config} />
      </TokProvider>
    </StrictMode>,
  )
} catch (error) {
  root.textContent = error instanceof Error ? error.message : String(error)
  root.className = "page error"
}

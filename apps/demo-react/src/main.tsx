/**
 * The React demo: one tok client for the page, given to the tree with
 * `TokProvider`; the page (`App.tsx`) reads it with `useToken`.
 */
import { StrictMode } from "react"
import { createRoot } from "react-dom/client"
import { createTokenClient, TokProvider } from "@tok/react"
import { demoSource, loadConfig, showDevtools } from "@tok/demo-shared"
import "@tok/demo-shared/style.css"
import { App } from "./App.tsx"

const root = document.querySelector<HTMLElement>("#app")!
try {
  const config = await loadConfig()
  // A Clerk development instance: the dev browser is set up as clerk-js would,
  // and the source is clerkFrontendApi({ publishableKey }) (see @tok/demo-shared).
  const client = createTokenClient({ source: await demoSource(config) })
  showDevtools(client)
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

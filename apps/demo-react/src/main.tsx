/**
 * The React demo: one tok client for the page, given to the tree with
 * `TokProvider`; the page (`App.tsx`) reads it with `useToken`.
 */
import { StrictMode } from "react"
import { createRoot } from "react-dom/client"
import { clerkFrontendApi, createTokenClient, TokProvider } from "@tok/react"
import { loadConfig } from "@tok/demo-shared"
import "@tok/demo-shared/style.css"
import { App } from "./App.tsx"

const root = document.querySelector<HTMLElement>("#app")!
try {
  const config = await loadConfig()
  const client = createTokenClient({ source: clerkFrontendApi({ baseUrl: config.tokenServer }) })
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

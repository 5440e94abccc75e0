/**
 * The Svelte demo: one tok client for the page, handed to the page
 * (`App.svelte`), which watches its token with `tokenStore`.
 */
import { mount } from "svelte"
import { clerkFrontendApi, createTokenClient } from "@tok/svelte"
import App from "./App.svelte"
import { loadConfig, showDevtools } from "@tok/demo-shared"
import "@tok/demo-shared/style.css"

const root = document.querySelector<HTMLElement>("#app")!
try {
  const config = await loadConfig()
  const client = createTokenClient({ source: clerkFrontendApi({ baseUrl: config.tokenServer }) })
  showDevtools(client)
  mount(App, { target: root, props: { client, config } })
} catch (error) {
  root.textContent = error instanceof Error ? error.message : String(error)
  root.className = "page error"
}

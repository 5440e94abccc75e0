/**
 * The Vue demo: one tok client for the page, given to the app with
 * `createTok`; the page (`App.vue`) reads it with `useToken`.
 */
import { createApp } from "vue"
import { clerkFrontendApi, createTok, createTokenClient } from "@tok/vue"
import App from "./App.vue"
import { loadConfig, showDevtools } from "@tok/demo-shared"
import "@tok/demo-shared/style.css"

const root = document.querySelector<HTMLElement>("#app")!
try {
  const config = await loadConfig()
  const client = createTokenClient({ source: clerkFrontendApi({ baseUrl: config.tokenServer }) })
  showDevtools(client)
  createApp(App, { config }).use(createTok(client)).mount(root)
} catch (error) {
  root.textContent = error instanceof Error ? error.message : String(error)
  root.className = "page error"
}

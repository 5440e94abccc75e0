/**
 * The Vue demo: one tok client for the page, given to the app with
 * `createTok`; the page (`App.vue`) reads it with `useToken`.
 */
import { createApp } from "vue"
import { createTok, createTokenClient } from "@tok/vue"
import App from "./App.vue"
import { demoSource, loadConfig, showDevtools } from "@tok/demo-shared"
import "@tok/demo-shared/style.css"

const root = document.querySelector<HTMLElement>("#app")!
try {
  const config = await loadConfig()
  // A Clerk development instance: the dev browser is set up as clerk-js would,
  // and the source is clerkFrontendApi({ publishableKey }) (see @tok/demo-shared).
  const client = createTokenClient({ source: await demoSource(config) })
  showDevtools(client)
  createApp(App, { config }).use(createTok(client)).mount(root)
} catch (error) {
  root.textContent = error instanceof Error ? error.message : String(error)
  root.className = "page error"
}

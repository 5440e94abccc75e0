/**
 * The Svelte demo: one tok client for the page, handed to the page
 * (`App.svelte`), which watches its token with `createToken`.
 */
import { mount } from "svelte"
import { createTokenClient } from "@tok/svelte"
import App from "./App.svelte"
import { demoSource, loadConfig, showDevtools } from "@tok/demo-shared"
import "@tok/demo-shared/style.css"

const root = document.querySelector<HTMLElement>("#app")!
try {
  const config = await loadConfig()
  // A Clerk development instance: the dev browser is set up as clerk-js would,
  // and the source is clerkFrontendApi({ publishableKey }) (see @tok/demo-shared).
  const client = createTokenClient({ source: await demoSource(config) })
  showDevtools(client)
  mount(App, { target: root, props: { client, config } })
} catch (error) {
  root.textContent = error instanceof Error ? error.message : String(error)
  root.className = "page error"
}

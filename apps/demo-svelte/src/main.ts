/**
 * The Svelte demo: one tok client for the page, handed to the page
 * (`App.svelte`), which watches its token with `createToken`.
 */
import { mount } from "svelte"
import { createTokenClient } from "@tok/svelte"
import App from "./App.svelte"
import { DEMO_BUFFER_SECONDS, startDemo } from "@tok/demo-shared"
import "@tok/demo-shared/style.css"

/** The adapter calls that drive the page, for its code panel. */
const CODE = `
// App.svelte — the token shown, kept fresh while the page is open:
const token = createToken(() => ({ template: template === "" ? undefined : template }))
// {token.status} {token.token} {token.expiresAt} · token.refresh()
// main.ts — one client for the page, in context:
setTokClient(createTokenClient({ source, expirationBuffer: 5 }))
// "Call API" — the session token, from the cache or one shared request:
const jwt = (await client.getToken())?.jwt
`

// A 5 s buffer (with the demo's 20 s tokens) shows a refresh in the first minute.
const root = document.querySelector<HTMLElement>("#app")!
await startDemo({
  adapter: "@tok/svelte",
  code: CODE,
  root,
  client: (source) => createTokenClient({ source, expirationBuffer: DEMO_BUFFER_SECONDS }),
  mount: (client, config) => {
    mount(App, { target: root, props: { client, config } })
  },
})

/**
 * The Vue demo: one tok client for the page, given to the app with
 * `createTok`; the page (`App.vue`) reads it with `useToken`.
 */
import { createApp } from "vue"
import { createTok, createTokenClient } from "@tok/vue"
import App from "./App.vue"
import { DEMO_BUFFER_SECONDS, startDemo } from "@tok/demo-shared"
import "@tok/demo-shared/style.css"

/** The adapter calls that drive the page, for its code panel. */
const CODE = `
// App.vue — the token shown, kept fresh while the page is open:
const { token, status, error, expiresAt, refresh } = useToken(() => ({
  template: template.value === "" ? undefined : template.value,
}))
// main.ts — one client for the app:
createApp(App).use(createTok(createTokenClient({ source, expirationBuffer: 5 })))
// "Call API" — the session token, from the cache or one shared request:
const jwt = (await client.getToken())?.jwt
`

// A 5 s buffer (with the demo's 20 s tokens) shows a refresh in the first minute.
const root = document.querySelector<HTMLElement>("#app")!
await startDemo({
  adapter: "@tok/vue",
  code: CODE,
  root,
  client: (source) => createTokenClient({ source, expirationBuffer: DEMO_BUFFER_SECONDS }),
  mount: (client, config) => {
    createApp(App, { config }).use(createTok(client)).mount(root)
  },
})

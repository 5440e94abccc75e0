// The Vue and Svelte adapters load in Node from the tarballs, re-export the
// core, the Svelte store is server-safe in Node, and the core gets a real
// session's token (TOK_URL).
import assert from "node:assert/strict"
import * as svelte from "@tok/svelte"
import * as vue from "@tok/vue"
import type { TokenState } from "@tok/core"

const url = process.env.TOK_URL ?? assert.fail("TOK_URL is not set")

assert.equal(typeof vue.useToken, "function")
assert.equal(typeof vue.createTok, "function")
assert.equal(vue.createTokenClient, svelte.createTokenClient, "one @tok/core behind both adapters")

const res = await fetch(`${url}/v1/client/sessions`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ user_id: "user_svelte" }),
})
const { id } = (await res.json()) as { id: string }
const tok = svelte.createTokenClient({
  source: svelte.clerkFrontendApi({ baseUrl: url }),
  session: id,
})
try {
  // Node is a server to the Svelte adapter (no `window`): the store shows its
  // initial state, makes no request, and `whenReady()` answers null at once.
  const store = svelte.tokenStore(tok, { template: "supabase" })
  const seen: Array<TokenState["status"]> = []
  const stop = store.subscribe((value) => seen.push(value.status))
  assert.equal(await store.whenReady(), null)
  await new Promise((resolve) => setTimeout(resolve, 200))
  stop()
  assert.deepEqual(seen, ["loading"])
  const stats = (await (await fetch(`${url}/__tok/stats?session=${id}`)).json()) as {
    tokenRequests: number
  }
  assert.equal(stats.tokenRequests, 0, "a server render makes no token request")
  // The core under the adapter gets the session's token for real.
  const token = await tok.getToken({ template: "supabase" })
  assert.equal(token?.sessionId, id)
} finally {
  await tok.dispose()
}
console.log("adapters (vue, svelte): ok")

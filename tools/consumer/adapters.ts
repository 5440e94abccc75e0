// The Vue and Svelte adapters load in Node from the tarballs, re-export the
// core, and the Svelte store follows a real session (TOK_URL).
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
  const store = svelte.tokenStore(tok, { template: "supabase" })
  const state = await new Promise<TokenState>((resolve) => {
    const stop = store.subscribe((value) => {
      if (value.status === "ready" || value.status === "error") {
        queueMicrotask(() => stop())
        resolve(value)
      }
    })
  })
  assert.equal(state.status, "ready")
  assert.equal(state.token.sessionId, id)
} finally {
  await tok.dispose()
}
console.log("adapters (vue, svelte): ok")

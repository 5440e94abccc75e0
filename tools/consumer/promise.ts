// The Promise face of @tok/core, as an app without Effect uses it, against a
// running `tok-dev-server` (its URL in TOK_URL). Installed from the packed
// tarballs by tools/consumer-test.mjs; type-checked, then run by Node.
import assert from "node:assert/strict"
import { clerkFrontendApi, createTokenClient, type Token } from "@tok/core"

const url = process.env.TOK_URL ?? assert.fail("TOK_URL is not set")

const signIn = async (userId: string): Promise<string> => {
  const res = await fetch(`${url}/v1/client/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user_id: userId }),
  })
  assert.equal(res.status, 200)
  const body = (await res.json()) as { id: string }
  return body.id
}
const tokenRequests = async (): Promise<number> => {
  const res = await fetch(`${url}/__tok/stats`)
  return ((await res.json()) as { tokenRequests: number }).tokenRequests
}

/** Waits (real time, at most 5 s) until `condition()` holds. */
const until = async (condition: () => boolean): Promise<void> => {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 5_000) assert.fail("timed out")
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const sessionId = await signIn("user_promise")
const tok = createTokenClient({ source: clerkFrontendApi({ baseUrl: url }), session: sessionId })
try {
  const before = await tokenRequests()
  // A hundred callers at once: one request, one token.
  const tokens = await Promise.all(Array.from({ length: 100 }, () => tok.getToken()))
  const first: Token | null = tokens[0] ?? null
  assert.ok(first !== null, "a token for the signed-in session")
  assert.ok(tokens.every((token) => token?.jwt === first.jwt))
  assert.equal(first.sessionId, sessionId)
  assert.equal(first.claims["sid"], sessionId)
  assert.equal(first.claims["iss"], url)
  assert.equal((await tokenRequests()) - before, 1)

  // A template token, and a cache hit for it.
  const supabase = await tok.getToken({ template: "supabase" })
  assert.equal(supabase?.claims["aud"], "authenticated")
  assert.equal((await tok.getToken({ template: "supabase" }))?.jwt, supabase?.jwt)

  // A watcher sees the token; sign-out reaches it and getToken answers null.
  const watcher = tok.watch()
  const seen: Array<string> = []
  const stop = watcher.subscribe(() => seen.push(watcher.getSnapshot().status))
  await until(() => watcher.getSnapshot().status === "ready")
  tok.setSession(null)
  await until(() => seen.includes("signed-out"))
  assert.equal(watcher.getSnapshot().status, "signed-out")
  stop()
  assert.equal(await tok.getToken(), null)
} finally {
  await tok.dispose()
}
console.log("promise face: ok")

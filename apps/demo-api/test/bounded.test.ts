/** demo-api bounds its outgoing calls and answers 503 with Retry-After when saturated. */
import { afterEach, describe, expect, it } from "vitest"
import { startDevServer, type DevServer } from "@tok/dev-server"
import { startDemoApi, type DemoApi } from "@tok/demo-api"

const origin = "http://127.0.0.1:4700"
const running: { stop(): Promise<void> }[] = []
afterEach(async () => {
  for (const server of running.reverse()) await server.stop()
  running.length = 0
})

const stack = async (options: { downstreamConcurrency: number; downstreamQueue: number }) => {
  const tokens = await startDevServer()
  running.push(tokens)
  const api = await startDemoApi({
    tokenServerUrl: tokens.url,
    allowedOrigins: [origin],
    ...options,
  })
  running.push(api)
  return { tokens, api }
}

/** A session token of a new session. */
const sessionToken = async (tokens: DevServer) =>
  tokens.issueToken({ sessionId: tokens.signIn("user_1").id, origin })

/** `/api/profile` with a session token (default: of a new session): status, Retry-After, code. */
const profile = async (tokens: DevServer, api: DemoApi, jwt?: string) => {
  const res = await fetch(`${api.url}/api/profile`, {
    headers: { authorization: `Bearer ${jwt ?? (await sessionToken(tokens))}`, origin },
    signal: AbortSignal.timeout(10_000),
  })
  const body = (await res.json()) as { error?: { code: string } }
  return { status: res.status, retryAfter: res.headers.get("retry-after"), code: body.error?.code }
}

/** Resolves once the token server has seen `count` token requests. */
const tokenRequests = async (tokens: DevServer, count: number) => {
  const until = Date.now() + 5_000
  while (tokens.stats().tokenRequests < count) {
    if (Date.now() > until) throw new Error(`the token server never saw ${count} token requests`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe("outgoing calls are bounded", () => {
  it("with every slot busy and no room to wait, a request gets 503 busy with Retry-After", async () => {
    const { tokens, api } = await stack({ downstreamConcurrency: 1, downstreamQueue: 0 })
    tokens.setFaults({ latencyMs: 800 })
    const first = profile(tokens, api)
    await tokenRequests(tokens, 1) // the first holds the only slot, waiting on the token server
    const second = await profile(tokens, api)
    expect(second).toEqual({ status: 503, retryAfter: "1", code: "busy" })
    expect(tokens.stats().tokenRequests).toBe(1) // refused before any outgoing call
    expect((await first).status).toBe(200)
    tokens.clearFaults()
    expect((await profile(tokens, api)).status).toBe(200) // a free slot again
  })

  it("requests wait for a slot up to the queue's size; beyond, 503", async () => {
    const { tokens, api } = await stack({ downstreamConcurrency: 1, downstreamQueue: 1 })
    // The first holds the slot for 3 s: room for both others to arrive on a busy machine.
    tokens.setFaults({ latencyMs: 3_000 })
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => sessionToken(tokens)))
    const first = profile(tokens, api, a)
    await tokenRequests(tokens, 1)
    // Two more while it does: one takes the only place in the queue, the
    // other is refused. Which one is HTTP's race, not the guarantee.
    const others = [profile(tokens, api, b), profile(tokens, api, c)]
    const refused = await Promise.race(others)
    expect(refused).toEqual({ status: 503, retryAfter: "1", code: "busy" })
    // The queued one waits for the slot: still only the first has called out.
    expect(tokens.stats().tokenRequests).toBe(1)
    tokens.clearFaults() // the queued one's own token request need not wait
    expect((await first).status).toBe(200)
    const statuses = (await Promise.all(others)).map((result) => result.status)
    expect(statuses.sort()).toEqual([200, 503])
    expect(tokens.stats().tokenRequests).toBe(2) // the refused one made no outgoing call
  })

  it("a request whose client goes while it waits frees its place", async () => {
    const { tokens, api } = await stack({ downstreamConcurrency: 1, downstreamQueue: 1 })
    tokens.setFaults({ latencyMs: 1_000 })
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => sessionToken(tokens)))
    const first = profile(tokens, api, a)
    await tokenRequests(tokens, 1)
    const leaving = new AbortController()
    const second = fetch(`${api.url}/api/profile`, {
      headers: { authorization: `Bearer ${b}`, origin },
      signal: leaving.signal,
    }).catch(() => "gone")
    await new Promise((resolve) => setTimeout(resolve, 300))
    leaving.abort()
    expect(await second).toBe("gone")
    await new Promise((resolve) => setTimeout(resolve, 100))
    const third = profile(tokens, api, c) // takes the place the second left
    expect((await first).status).toBe(200)
    expect((await third).status).toBe(200)
    expect(tokens.stats().tokenRequests).toBe(2) // the second never asked for a token
  })

  it("refuses a bound that cannot work", async () => {
    await expect(
      startDemoApi({
        tokenServerUrl: "http://127.0.0.1:9",
        allowedOrigins: [origin],
        downstreamConcurrency: 0,
      }),
    ).rejects.toThrow("downstreamConcurrency")
  })
})

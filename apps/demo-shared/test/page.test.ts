import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import {
  createTokenClient,
  fromFunction,
  NotSignedInError,
  TokenSourceError,
  type TokClient,
} from "@tok/core"
import { createDemoPage, type DemoPage } from "../src/page.ts"
import {
  fakeTokenServer,
  jwtFor,
  testConfig as config,
  type FakeTokenServer,
} from "../src/testing.ts"

describe("the demo page's controller", () => {
  let client: TokClient
  let server: FakeTokenServer
  let page: DemoPage

  beforeEach(() => {
    // Only the page's own clock is virtual; tok's client keeps real time.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"], now: 1_000_000 })
    server = fakeTokenServer()
    client = createTokenClient({
      source: fromFunction(async (request) => jwtFor(request.sessionId, request.template)),
    })
    page = createDemoPage({ config, client, fetch: server.fetch })
  })
  afterEach(async () => {
    page.stop()
    await client.dispose()
    vi.useRealTimers()
  })

  it("signs the typed user in on the token server and hands the session to the client", async () => {
    page.setUserId(" user_bob ")
    const signingIn = page.signIn()
    expect(page.getSnapshot().busy).toBe(true)
    await signingIn
    expect(server.calls).toContain("POST http://127.0.0.1:9/v1/client/sessions user_id=user_bob")
    expect(client.session).toBe("sess_1")
    expect(page.getSnapshot()).toMatchObject({ sessionId: "sess_1", busy: false, notice: null })
  })

  it("a failed sign-in is a notice, and the client stays signed out", async () => {
    page = createDemoPage({
      config,
      client,
      fetch: async () => Response.json({ errors: [{ message: "no such user" }] }, { status: 422 }),
    })
    await page.signIn()
    expect(client.session).toBeNull()
    expect(page.getSnapshot()).toMatchObject({
      sessionId: null,
      busy: false,
      notice: "Sign-in failed: no such user",
    })
  })

  it("signs out on the token server, and on the client whatever the server answers", async () => {
    client.setSession("sess_1")
    page = createDemoPage({
      config,
      client,
      fetch: async () => new Response(null, { status: 500 }),
    })
    await page.signOut()
    expect(client.session).toBeNull()
    expect(page.getSnapshot()).toMatchObject({ sessionId: null, busy: false })
    expect(page.getSnapshot().notice).toMatch(/^Sign-out failed/)

    client.setSession("sess_1")
    page = createDemoPage({ config, client, fetch: server.fetch })
    await page.signOut()
    expect(server.calls).toEqual(["DELETE http://127.0.0.1:9/v1/client/sessions/sess_1"])
    expect(page.getSnapshot().notice).toBeNull()
  })

  it("follows the client's session while started, and only then", () => {
    page.start()
    client.setSession("sess_2")
    expect(page.getSnapshot().sessionId).toBe("sess_2")
    page.stop()
    client.setSession("sess_3")
    expect(page.getSnapshot().sessionId).toBe("sess_2")
  })

  it("the clock ticks every 250 ms and the counters are polled every second, while started", async () => {
    client.setSession("sess_1")
    const changes = vi.fn()
    page.subscribe(changes)
    page.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(page.getSnapshot().counts).toEqual({ session: 1, total: 2 })
    const polls = () => server.calls.filter((call) => call.endsWith("/__tok/stats")).length
    expect(polls()).toBe(1)

    await vi.advanceTimersByTimeAsync(250)
    expect(page.getSnapshot().now).toBe(1_000_250)
    await vi.advanceTimersByTimeAsync(750)
    expect(page.getSnapshot().now).toBe(1_001_000)
    expect(polls()).toBe(2)
    expect(changes).toHaveBeenCalled()

    page.stop()
    changes.mockClear()
    await vi.advanceTimersByTimeAsync(5000)
    expect(polls()).toBe(2)
    expect(page.getSnapshot().now).toBe(1_001_000)
    expect(changes).not.toHaveBeenCalled()
  })

  it("counters that can't be read are shown as unknown", async () => {
    page = createDemoPage({
      config,
      client,
      fetch: async () => new Response(null, { status: 503 }),
    })
    page.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(page.getSnapshot().counts).toBeNull()
  })

  it("an unsubscribed listener hears nothing more", async () => {
    const changes = vi.fn()
    const unsubscribe = page.subscribe(changes)
    page.setUserId("user_carol")
    unsubscribe()
    page.setUserId("user_dave")
    expect(changes).toHaveBeenCalledTimes(1)
    expect(page.getSnapshot().userId).toBe("user_dave")
  })

  it("calls demo-api with the JWT it is given, and keeps the answer until the next sign-in", async () => {
    const calls: Array<string | null> = []
    page = createDemoPage({
      config,
      client,
      fetch: server.fetch,
      api: async (jwt) => {
        calls.push(jwt)
        return { status: 200, body: { user: "user_alice" } }
      },
    })
    await page.callApi(Promise.resolve("a.b.c"))
    expect(calls).toEqual(["a.b.c"])
    expect(page.getSnapshot().api).toEqual({ status: 200, body: { user: "user_alice" } })
    await page.signIn()
    expect(page.getSnapshot().api).toBeNull()
  })

  it("a token that can't be had is shown as such: demo-api was never called", async () => {
    const calls: Array<string | null> = []
    page = createDemoPage({
      config,
      client,
      api: async (jwt) => (calls.push(jwt), { status: 200, body: {} }),
    })
    await page.callApi(Promise.reject(new NotSignedInError()))
    expect(calls).toEqual([])
    expect(page.getSnapshot().api).toEqual({
      status: 0,
      body: { error: { code: "no_token", message: "The session has ended — sign in again" } },
      noToken: true,
    })
  })

  it("a call to demo-api shows as pending until its answer", async () => {
    let answer!: (value: { status: number; body: unknown }) => void
    page = createDemoPage({
      config,
      client,
      api: () => new Promise((resolve) => (answer = resolve)),
    })
    const calling = page.callApi("a.b.c")
    await vi.waitFor(() => expect(page.getSnapshot().apiPending).toBe(true))
    answer({ status: 200, body: { user: "user_alice" } })
    await calling
    expect(page.getSnapshot()).toMatchObject({ apiPending: false, api: { status: 200 } })
  })

  it("sign-out clears the API card", async () => {
    client.setSession("sess_1")
    page = createDemoPage({
      config,
      client,
      fetch: server.fetch,
      api: async () => ({ status: 200, body: { user: "user_alice", session: "sess_1" } }),
    })
    page.start()
    await page.callApi("a.b.c")
    expect(page.getSnapshot().api).not.toBeNull()
    await page.signOut()
    expect(page.getSnapshot().api).toBeNull()
  })

  it("by default demo-api is called over fetch with the JWT as a bearer token", async () => {
    const seen: Array<string | null> = []
    page = createDemoPage({
      config,
      client,
      fetch: async (_url, init) => {
        seen.push(new Headers(init?.headers).get("Authorization"))
        return Response.json({ user: "user_alice" })
      },
    })
    await page.callApi("a.b.c")
    await page.callApi()
    expect(seen).toEqual(["Bearer a.b.c", null])
  })

  describe("against a token server that is down, then back", () => {
    let down: boolean
    let flaky: TokClient
    beforeEach(() => {
      down = true
      flaky = createTokenClient({
        source: fromFunction(async (request) => {
          if (down) throw new TokenSourceError({ status: 503 })
          return jwtFor(request.sessionId, request.template)
        }),
        retry: { attempts: 2, baseDelay: 1, maxDelay: 2 },
        share: false,
      })
      flaky.setSession("sess_1")
    })
    afterEach(() => flaky.dispose())

    it("counts this page's token requests and retries from its events, and tracks the outage", async () => {
      page = createDemoPage({ config, client: flaky, fetch: server.fetch })
      page.start()
      await expect(flaky.getToken()).rejects.toMatchObject({ _tag: "TokenUnavailableError" })
      await vi.waitFor(() => expect(page.getSnapshot()).toMatchObject({ requests: 2, retries: 1 }))
      expect(page.getSnapshot().tracks[""]?.outage).toMatchObject({ attempts: 2, status: 503 })
      down = false
      await flaky.getToken()
      await vi.waitFor(() => expect(page.getSnapshot()).toMatchObject({ requests: 3, retries: 1 }))
      expect(page.getSnapshot().tracks[""]).toMatchObject({
        outage: null,
        recovered: { afterMs: expect.any(Number) },
      })
    })

    it("'could not get a token' is cleared once a token comes back", async () => {
      page = createDemoPage({ config, client: flaky, fetch: server.fetch })
      page.start()
      await page.callApi(flaky.getToken().then((token) => token?.jwt ?? null))
      expect(page.getSnapshot().api).toMatchObject({ noToken: true })
      down = false
      await flaky.getToken()
      await vi.waitFor(() => expect(page.getSnapshot().api).toBeNull())
    })

    it("'Refresh now' keeps trying until a new token is shown", async () => {
      page = createDemoPage({ config, client: flaky, fetch: server.fetch, refreshRetryMs: 10 })
      page.start()
      let shown: string | null = null
      const refresh = async () => {
        shown = (await flaky.getToken({ skipCache: true }).catch(() => null))?.jwt ?? shown
      }
      const refreshing = page.refreshNow(refresh, () => shown)
      await vi.waitFor(() => expect(page.getSnapshot().refreshNote).toMatch(/Trying again/))
      expect(page.getSnapshot().refreshing).toBe(true)
      down = false
      await refreshing
      expect(shown).not.toBeNull()
      expect(page.getSnapshot()).toMatchObject({ refreshing: false, refreshNote: null })
    })
  })
})

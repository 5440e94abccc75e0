import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { createTokenClient, fromFunction, type TokenEvent, TokenSourceError } from "@tok/core"
import { fakeJwt } from "@tok/core/testing"
import { defineTokDevtools, mountDevtools, Timeline } from "@tok/devtools"

const key = { sessionId: "sess_1", template: "supabase" }
const base = { instance: "tab-1" }

const life = (at: number, requestId: number): Array<TokenEvent> => [
  { ...base, type: "request-started", at, key, requestId, cause: "call", skipCache: false },
  {
    ...base,
    type: "request-ended",
    at: at + 50,
    key,
    requestId,
    durationMs: 50,
    attempts: 1,
    origin: "network",
    token: { issuedAt: at + 50, expiresAt: at + 60_050 },
    fenced: false,
  },
]

describe("Timeline", () => {
  it("a request and its token become a tick and a life; reads become the hit rate", () => {
    const timeline = new Timeline()
    for (const event of life(1000, 1)) timeline.apply(event)
    timeline.apply({ ...base, type: "miss", at: 1000, key })
    for (let i = 0; i < 3; i++) timeline.apply({ ...base, type: "hit", at: 2000, key })
    const [row] = [...timeline.rows.values()]
    expect(row!.label).toBe("supabase")
    expect(row!.marks.map((m) => m.kind)).toEqual(["request"])
    expect(row!.lives).toEqual([
      {
        issuedAt: 1050,
        expiresAt: 61_050,
        bufferMillis: 10_000,
        instance: "tab-1",
        origin: "network",
      },
    ])
    expect(Timeline.hitRate(row!)).toBe(0.75)
    expect(Timeline.current(row!, 30_000)?.issuedAt).toBe(1050)
    expect(Timeline.current(row!, 61_050)).toBeUndefined()
  })

  it("failed attempts are red marks; the next success is a recovery", () => {
    const timeline = new Timeline()
    timeline.apply({
      ...base,
      type: "request-started",
      at: 0,
      key,
      requestId: 1,
      cause: "call",
      skipCache: false,
    })
    timeline.apply({
      ...base,
      type: "attempt-failed",
      at: 10,
      key,
      requestId: 1,
      attempt: 1,
      error: { tag: "TokenSourceError", reason: "server", status: 503 },
      retrying: true,
    })
    timeline.apply({
      ...base,
      type: "request-ended",
      at: 20,
      key,
      requestId: 1,
      durationMs: 20,
      attempts: 2,
      origin: "network",
      error: { tag: "TokenUnavailableError", reason: "server", status: 503 },
      fenced: false,
    })
    for (const event of life(5000, 2)) timeline.apply(event)
    const [row] = [...timeline.rows.values()]
    expect(row!.marks.map((m) => m.kind)).toEqual([
      "request",
      "retry",
      "failure",
      "request",
      "recovery",
    ])
    expect(row!.marks[1]!.detail).toContain("HTTP 503")
    expect(row!.failing).toBe(false)
  })

  it("a fault is shaded from the first failed attempt to the next token, even when a retry brings it", () => {
    const timeline = new Timeline()
    const failed = (at: number, attempt: number): TokenEvent => ({
      ...base,
      type: "attempt-failed",
      at,
      key,
      requestId: 1,
      attempt,
      error: { tag: "TokenSourceError", reason: "server", status: 503 },
      retrying: true,
    })
    timeline.apply({ ...life(0, 1)[0]!, at: 1000 })
    timeline.apply(failed(1100, 1))
    const [row] = [...timeline.rows.values()]
    expect(row!.outages).toEqual([{ from: 1100, to: undefined }])
    timeline.apply(failed(3100, 2)) // the same fault: one window
    expect(row!.outages).toHaveLength(1)
    timeline.apply({
      ...base,
      type: "request-ended",
      at: 9500,
      key,
      requestId: 1,
      durationMs: 8500,
      attempts: 3,
      origin: "network",
      token: { issuedAt: 9500, expiresAt: 69_500 },
      fenced: false,
    })
    expect(row!.outages).toEqual([{ from: 1100, to: 9500 }])
    expect(row!.marks.at(-1)).toMatchObject({ kind: "recovery" })
    expect(row!.marks.at(-1)!.detail).toContain("recovered after 8.4 s")
    // A healthy request afterwards is no recovery and opens no window.
    for (const event of life(20_000, 2)) timeline.apply(event)
    expect(row!.outages).toHaveLength(1)
    expect(row!.marks.filter((m) => m.kind === "recovery")).toHaveLength(1)
    timeline.prune(9500 + 120_001)
    expect(row!.outages).toEqual([])
  })

  it("a token shared by a peer is a life of that peer", () => {
    const timeline = new Timeline()
    timeline.apply({
      ...base,
      type: "shared",
      at: 0,
      key,
      from: "tab-2",
      token: { issuedAt: 0, expiresAt: 60_000 },
    })
    const [row] = [...timeline.rows.values()]
    expect(row!.lives[0]).toMatchObject({ instance: "tab-2", origin: "peer" })
    expect(row!.marks[0]!.kind).toBe("shared")
  })

  it("nothing older than the window is kept", () => {
    const timeline = new Timeline({ windowMillis: 10_000 })
    for (const event of life(0, 1)) timeline.apply(event)
    timeline.prune(60_000)
    const [row] = [...timeline.rows.values()]
    expect(row!.marks).toEqual([])
    expect(row!.lives).toHaveLength(1) // still valid until 60 050
    timeline.prune(80_000)
    expect(row!.lives).toEqual([])
  })
})

describe("<tok-devtools>", () => {
  beforeEach(() => {
    vi.useFakeTimers({
      now: 1_700_000_000_000,
      toFake: ["Date", "setTimeout", "setInterval", "clearInterval", "clearTimeout"],
    })
  })
  afterEach(() => {
    document.body.replaceChildren()
    vi.useRealTimers()
  })

  const source = (failures: Array<number>) =>
    fromFunction(async (request) => {
      const status = failures.shift()
      if (status !== undefined) throw new TokenSourceError({ status, message: "scripted" })
      const iat = Math.floor(Date.now() / 1000)
      return fakeJwt({ sid: request.sessionId, iat, exp: iat + 60 })
    })

  const shadow = (element: HTMLElement) => element.shadowRoot!

  it("draws a bar for the current token and a tick per request, fed by a real client", async () => {
    const tok = createTokenClient({ source: source([]), instance: "tab-1" })
    const element = mountDevtools(tok)
    tok.setSession("sess_1")
    await tok.getToken()
    await tok.getToken()
    vi.advanceTimersByTime(1000)
    await tok.getToken({ skipCache: true })
    element.render()
    const root = shadow(element)
    expect(root.querySelectorAll('[data-kind="token-bar"]')).toHaveLength(2)
    expect(root.querySelectorAll("[data-current]")).toHaveLength(1)
    expect(root.querySelectorAll('[data-kind="tick-request"]')).toHaveLength(2)
    expect(root.querySelector(".hit-rate")!.textContent).toBe("hit rate 50%")
    expect(root.querySelector(".instances")!.textContent).toBe("by tab-1")
    // Never a JWT in what it draws.
    expect(root.innerHTML).not.toContain("eyJ")
    await tok.dispose()
  })

  it("shows failures and retries in red, then the recovery", async () => {
    const tok = createTokenClient({
      source: source([503, 503, 503, 503]),
      session: "sess_1",
      retry: { baseDelay: 10 },
    })
    const element = mountDevtools(tok)
    const failed = tok.getToken().catch(() => null)
    await vi.advanceTimersByTimeAsync(5_000)
    await failed
    await tok.getToken()
    element.render()
    const root = shadow(element)
    expect(root.querySelectorAll('[data-kind="tick-retry"]')).toHaveLength(3)
    expect(root.querySelectorAll('[data-kind="tick-failure"]')).toHaveLength(2)
    expect(root.querySelectorAll('[data-kind="tick-recovery"]')).toHaveLength(1)
    expect(root.querySelectorAll('[data-kind="token-bar"]')).toHaveLength(1)
    // The fault window is one shaded band, closed by the token that ended it.
    const outages = root.querySelectorAll('[data-kind="outage"]')
    expect(outages).toHaveLength(1)
    expect(outages[0]!.querySelector("title")!.textContent).toMatch(/^failed for \d+\.\d s$/)
    await tok.dispose()
  })

  it("stops listening when told to, and the header folds it away", async () => {
    defineTokDevtools()
    defineTokDevtools() // twice is harmless
    const tok = createTokenClient({ source: source([]), session: "sess_1" })
    const element = document.createElement("tok-devtools") as ReturnType<typeof mountDevtools>
    document.body.append(element)
    const stop = element.connect(tok)
    await tok.getToken()
    stop()
    await tok.getToken({ skipCache: true })
    const [row] = [...element.timeline.rows.values()]
    expect(row!.requests).toBe(1)
    shadow(element).querySelector("header")!.dispatchEvent(new Event("click"))
    expect(element.hasAttribute("collapsed")).toBe(true)
    await tok.dispose()
  })
})

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { createTokenClient, fromFunction, type TokenEvent, TokenSourceError } from "@tok/core"
import { fakeJwt } from "@tok/core/testing"

/** A source that mints 60 s tokens, or fails while `failures` says so. */
const scripted = () => {
  const state = { failures: [] as Array<number | undefined>, requests: 0 }
  const source = fromFunction(async (request) => {
    state.requests++
    if (state.failures.length > 0) {
      const status = state.failures.shift()
      throw new TokenSourceError({ status, message: "scripted failure" })
    }
    const iat = Math.floor(Date.now() / 1000)
    return fakeJwt({ sid: request.sessionId, iat, exp: iat + 60, n: state.requests })
  })
  return { state, source }
}

const strip = (events: ReadonlyArray<TokenEvent>) => events.map((e) => e.type)

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe("§8 events of the Promise face", () => {
  it("a miss, its request and the hits after it are told in order, with the token's times but never its JWT", async () => {
    const { source } = scripted()
    const tok = createTokenClient({ source, instance: "tab-1" })
    const events: Array<TokenEvent> = []
    const stop = tok.events.subscribe((event) => events.push(event))
    tok.setSession("sess_1")
    const token = await tok.getToken()
    await tok.getToken()
    await tok.getToken({ template: undefined })
    expect(strip(events)).toEqual([
      "session",
      "miss",
      "request-started",
      "request-ended",
      "hit",
      "hit",
    ])
    const ended = events.find((e) => e.type === "request-ended")
    expect(ended).toMatchObject({
      instance: "tab-1",
      key: { sessionId: "sess_1" },
      attempts: 1,
      origin: "network",
      fenced: false,
      token: { issuedAt: token!.issuedAt, expiresAt: token!.expiresAt },
    })
    expect(events[2]).toMatchObject({ type: "request-started", cause: "call", skipCache: false })
    expect(JSON.stringify(events)).not.toContain("eyJ")
    expect(JSON.stringify(events)).not.toContain(token!.jwt)
    stop()
    await tok.getToken()
    expect(events).toHaveLength(6)
    await tok.dispose()
  })

  it("failed attempts, the retries between them, and the error are told", async () => {
    const { state, source } = scripted()
    state.failures.push(503, 503, 503, 503)
    const tok = createTokenClient({ source, session: "sess_1", retry: { baseDelay: 10 } })
    const events: Array<TokenEvent> = []
    tok.events.subscribe((event) => events.push(event))
    const answer = tok.getToken().catch((error: unknown) => error)
    await vi.advanceTimersByTimeAsync(10_000)
    expect((await answer) as { _tag: string }).toMatchObject({ _tag: "TokenUnavailableError" })
    const failed = events.filter((e) => e.type === "attempt-failed")
    expect(failed.map((e) => [e.attempt, e.retrying, e.error.status])).toEqual([
      [1, true, 503],
      [2, true, 503],
      [3, true, 503],
      [4, false, 503],
    ])
    expect(events.at(-2)).toMatchObject({
      type: "request-ended",
      attempts: 4,
      error: { tag: "TokenUnavailableError", reason: "server", status: 503 },
    })
    expect(events.at(-1)).toMatchObject({ type: "error", error: { reason: "server" } })
    await tok.dispose()
  })

  it("a watcher's background refresh is told before its request", async () => {
    const { source } = scripted()
    const tok = createTokenClient({ source, session: "sess_1", refreshJitter: 0 })
    const events: Array<TokenEvent> = []
    tok.events.subscribe((event) => events.push(event))
    const stop = tok.watch({ template: "t" }).subscribe(() => undefined)
    await vi.advanceTimersByTimeAsync(55_000)
    const refreshes = events.filter((e) => e.type === "refresh")
    expect(refreshes).toHaveLength(2)
    expect(refreshes[0]).toMatchObject({ key: { template: "t" }, bufferMillis: 10_000 })
    const started = events.filter((e) => e.type === "request-started")
    expect(started.map((e) => e.cause)).toEqual(["refresh", "refresh"])
    stop()
    await tok.dispose()
  })

  it("a listener that throws stops neither the client nor the other listeners", async () => {
    const reported: Array<unknown> = []
    const original = globalThis.reportError
    globalThis.reportError = (error) => reported.push(error)
    try {
      const { source } = scripted()
      const tok = createTokenClient({ source, session: "sess_1" })
      tok.events.subscribe(() => {
        throw new Error("listener bug")
      })
      const seen: Array<string> = []
      tok.events.subscribe((event) => seen.push(event.type))
      expect(await tok.getToken()).not.toBeNull()
      expect(seen).toEqual(["miss", "request-started", "request-ended"])
      expect(reported).toHaveLength(3)
      await tok.dispose()
    } finally {
      globalThis.reportError = original
    }
  })
})

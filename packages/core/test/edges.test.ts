/**
 * Edges found in review: each test failed before its fix.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import {
  clerkBackendApi,
  clerkFrontendApi,
  createTokenClient,
  fromFunction,
  InvalidOptionsError,
  type TokenState,
} from "@tok/core"
import { fakeJwt, inspectClient, makeFakeSource } from "@tok/core/testing"
import { settle, withClient } from "./support.ts"

describe("§2.3 no token outlives its session: a skipCache request does not shield an earlier one", () => {
  it.effect("from sign-out: the earlier request's late token is not cached", () => {
    const source = makeFakeSource()
    source.enqueue({ delayMs: 5000 }, { delayMs: 100 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_a")
        const early = yield* Effect.forkChild(Effect.result(tok.getToken()))
        const fresh = yield* Effect.forkChild(tok.getToken({ skipCache: true }))
        yield* settle
        yield* tok.setSession(null)
        yield* TestClock.adjust("6 seconds")
        yield* Fiber.join(early)
        yield* Fiber.await(fresh)
        expect(inspectClient(tok).cachedTokens).toBe(0)
        expect(inspectClient(tok).requests).toBe(0)
        // Asked for by name now, sess_a's token comes from a new request, not the cache.
        yield* tok.getToken({ sessionId: "sess_a" })
        expect(source.requests).toHaveLength(3)
      }),
    )
  })

  it.effect("from invalidate: the earlier request's late token is not cached", () => {
    const source = makeFakeSource()
    source.enqueue({ delayMs: 5000 }, { delayMs: 100 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_a")
        const early = yield* Effect.forkChild(tok.getToken())
        const fresh = yield* Effect.forkChild(tok.getToken({ skipCache: true }))
        yield* settle
        yield* tok.invalidate()
        yield* TestClock.adjust("6 seconds")
        yield* Fiber.join(early)
        yield* Fiber.join(fresh)
        expect(inspectClient(tok).cachedTokens).toBe(0)
        yield* tok.getToken()
        expect(source.requests).toHaveLength(3)
      }),
    )
  })
})

describe("ids with control characters are InvalidOptionsError (cache keys cannot collide)", () => {
  it.effect.each([
    { sessionId: "victim\u0000firebase" },
    { template: "t\u0000\u0000o" },
    { organizationId: "o\u0001" },
    { template: "a\u007f" },
  ])("%j", (options) => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const error = yield* Effect.flip(tok.getToken(options))
        expect(error).toBeInstanceOf(InvalidOptionsError)
        expect(source.requests).toHaveLength(0)
      }),
    )
  })
})

describe("session listeners", () => {
  it("a listener that throws does not leave a request hanging after a 401", async () => {
    const tok = createTokenClient({
      source: fromFunction(async () => {
        throw new (await import("@tok/core")).TokenSourceError({ status: 401 })
      }),
      session: "sess_1",
    })
    const reported: Array<unknown> = []
    const original = globalThis.reportError
    globalThis.reportError = (error: unknown) => void reported.push(error)
    try {
      tok.onSessionChange(() => {
        throw new Error("listener bug")
      })
      await expect(tok.getToken()).resolves.toBeNull()
      expect(tok.session).toBeNull()
      expect(reported).toHaveLength(1)
    } finally {
      globalThis.reportError = original
      await tok.dispose()
    }
  })

  it("a listener that changes the session again: the others end on the latest session", async () => {
    const tok = createTokenClient({ source: makeFakeSource().layer })
    const seen: Array<string | null> = []
    tok.onSessionChange((id) => {
      if (id === "b") tok.setSession("c")
    })
    tok.onSessionChange((id) => seen.push(id))
    tok.setSession("b")
    expect(tok.session).toBe("c")
    expect(seen.at(-1)).toBe("c")
    await tok.dispose()
  })
})

describe("watchers and expiry", () => {
  it.effect("subscribers are told when the token they hold expires (nothing refreshes it)", () => {
    const source = makeFakeSource({ lifetimeSeconds: 5, delayMs: 10 })
    return withClient(
      source,
      (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch({ expirationBuffer: 0 })
          const states: Array<TokenState> = []
          const stop = watcher.subscribe((state) => states.push(state))
          yield* TestClock.adjust("10 millis")
          expect(states.at(-1)?.status).toBe("ready")
          yield* TestClock.adjust("6 seconds")
          expect(states.at(-1)).toEqual({ status: "loading" })
          stop()
        }),
      { autoRefresh: false },
    )
  })

  it.effect("a watcher of a named session that got a 401 stops asking", () => {
    const source = makeFakeSource({ respond: () => ({ fail: { status: 401 } }) })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        const watcher = yield* tok.watch({ sessionId: "sess_gone" })
        const stop = watcher.subscribe(() => undefined)
        yield* settle
        expect(watcher.getSnapshot().status).toBe("signed-out")
        yield* TestClock.adjust("1 hour")
        expect(source.requests).toHaveLength(1)
        stop()
      }),
    )
  })
})

describe("degenerate tokens", () => {
  it.effect("a skipCache token shorter than the buffer never evicts a usable cached token", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const good = yield* tok.getToken()
        source.enqueue({ mint: { lifetimeSeconds: 5 } })
        const short = yield* tok.getToken({ skipCache: true })
        expect(short.jwt).not.toBe(good.jwt)
        expect((yield* tok.getToken()).jwt).toBe(good.jwt)
        expect(source.requests).toHaveLength(2)
      }),
    )
  })
})

describe("source options", () => {
  it.each([
    ["no baseUrl", () => clerkFrontendApi({} as never)],
    ["a baseUrl that is not http(s)", () => clerkFrontendApi({ baseUrl: "ftp://x" })],
    ["a baseUrl that is not a URL", () => clerkBackendApi({ baseUrl: "nope", secretKey: "k" })],
    ["no secretKey", () => clerkBackendApi({ baseUrl: "http://x" } as never)],
    ["an empty secretKey", () => clerkBackendApi({ baseUrl: "http://x", secretKey: "" })],
  ])("%s is InvalidOptionsError", (_name, make) => {
    expect(make).toThrow(InvalidOptionsError)
  })

  it("a valid source builds", () => {
    expect(() => clerkFrontendApi({ baseUrl: "https://clerk.example.com" })).not.toThrow()
    expect(fakeJwt({ iat: 0, exp: 1 })).toContain(".")
  })
})

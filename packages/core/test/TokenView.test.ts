import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import {
  createTokenClient,
  type TokClient,
  TokenRequestError,
  TokenView,
  TokenUnavailableError,
} from "@tok/core"
import { makeFakeSource, type FakeSource } from "@tok/core/testing"

let source: FakeSource
let client: TokClient

beforeEach(() => {
  vi.useFakeTimers()
  source = makeFakeSource({ lifetimeSeconds: 60 })
  client = createTokenClient({ source: source.layer, session: "sess_1", refreshJitter: 0 })
})

afterEach(async () => {
  await client.dispose()
  vi.useRealTimers()
})

describe("TokenView.fromState", () => {
  it("projects every status onto token, status, error and expiresAt", async () => {
    expect(TokenView.fromState({ status: "signed-out" })).toEqual({
      token: null,
      status: "signed-out",
      error: null,
      expiresAt: null,
    })
    expect(TokenView.fromState(TokenView.initialState)).toEqual({
      token: null,
      status: "loading",
      error: null,
      expiresAt: null,
    })
    const token = (await client.getToken())!
    expect(TokenView.fromState({ status: "ready", token })).toEqual({
      token: token.jwt,
      status: "ready",
      error: null,
      expiresAt: token.expiresAt,
    })
    const error = new TokenRequestError({ status: 403 })
    // The JWT shows in every status that carries one.
    expect(TokenView.fromState({ status: "error", error, token })).toEqual({
      token: token.jwt,
      status: "error",
      error,
      expiresAt: token.expiresAt,
    })
    expect(TokenView.fromState({ status: "loading", token }).token).toBe(token.jwt)
  })
})

describe("TokenView.whenReady", () => {
  it("waits for the key's first answer and lets the key go afterwards", async () => {
    source.enqueue({ delayMs: 1_000 })
    const watcher = client.watch({ template: "t" })
    const ready = TokenView.whenReady(watcher)
    await vi.advanceTimersByTimeAsync(1_000)
    const jwt = await ready
    expect(jwt).toMatch(/^ey/)
    expect(jwt).toBe(TokenView.fromState(watcher.getSnapshot()).token)
    await vi.advanceTimersByTimeAsync(10 * 60_000) // not watched any more: no refresh
    expect(source.requests).toHaveLength(1)
  })

  it("answers at once from the cache, and null when signed out", async () => {
    const token = await client.getToken()
    expect(await TokenView.whenReady(client.watch())).toBe(token!.jwt)
    client.setSession(null)
    expect(await TokenView.whenReady(client.watch())).toBe(null)
    expect(source.requests).toHaveLength(1)
  })

  it("resolves null when the session ends while it waits", async () => {
    source.enqueue({ delayMs: 1_000 })
    const ready = TokenView.whenReady(client.watch())
    await vi.advanceTimersByTimeAsync(10)
    client.setSession(null)
    await vi.advanceTimersByTimeAsync(0)
    expect(await ready).toBe(null)
  })

  it("rejects with the TokenError when the key fails", async () => {
    source.enqueue({ fail: { status: 403 } })
    const ready = TokenView.whenReady(client.watch()).catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(0)
    expect(await ready).toBeInstanceOf(TokenRequestError)

    source.enqueue({ fail: {} }, { fail: {} }, { fail: {} }, { fail: {} })
    const unavailable = TokenView.whenReady(client.watch({ template: "x" })).catch((e) => e)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(await unavailable).toBeInstanceOf(TokenUnavailableError)
  })

  it("rejects with the signal's reason when aborted, and stops watching", async () => {
    source.enqueue({ delayMs: 5_000 })
    const controller = new AbortController()
    const ready = TokenView.whenReady(client.watch(), controller.signal).catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(10)
    controller.abort()
    expect(await ready).toMatchObject({ name: "AbortError" })
    const aborted = await TokenView.whenReady(client.watch(), controller.signal).catch((e) => e)
    expect(aborted).toMatchObject({ name: "AbortError" })
  })
})

describe("TokenView.keyOf and sameKey", () => {
  it("null options and enabled: false watch nothing, never the default key", () => {
    expect(TokenView.keyOf(null)).toBe(null)
    expect(TokenView.keyOf({ template: "t", enabled: false })).toBe(null)
    expect(TokenView.keyOf(undefined)).toEqual(TokenView.keyOf({}))
    expect(TokenView.sameKey(null, null)).toBe(true)
    expect(TokenView.sameKey(null, TokenView.keyOf({}))).toBe(false)
  })

  it("a new object with the same values is the same key; any field of a key tells keys apart", () => {
    const key = TokenView.keyOf({ template: "t", organizationId: "o", enabled: true })
    expect(TokenView.sameKey(key, TokenView.keyOf({ organizationId: "o", template: "t" }))).toBe(
      true,
    )
    for (const other of [
      { template: "u", organizationId: "o" },
      { template: "t", organizationId: "p" },
      { template: "t", organizationId: "o", expirationBuffer: 5 },
      { template: "t", organizationId: "o", sessionId: "sess_2" },
    ]) {
      expect(TokenView.sameKey(key, TokenView.keyOf(other))).toBe(false)
    }
  })
})

import { flushSync, mount, unmount } from "svelte"
import { get } from "svelte/store"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import {
  createTokenClient,
  type TokClient,
  TokenRequestError,
  type TokenState,
  tokenStore,
} from "@tok/svelte"
import { makeFakeSource, type FakeSource } from "@tok/core/testing"
import TokenView from "./fixtures/TokenView.svelte"

let source: FakeSource
let client: TokClient

beforeEach(() => {
  vi.useFakeTimers()
  source = makeFakeSource({ lifetimeSeconds: 60 })
  client = createTokenClient({ source: source.layer, session: null, refreshJitter: 0 })
})

afterEach(async () => {
  await client.dispose()
  vi.useRealTimers()
  document.body.innerHTML = ""
})

/** Lets fibers and promises run without moving the clock, then flushes Svelte. */
const settle = async () => {
  await vi.advanceTimersByTimeAsync(0)
  flushSync()
}

const text = () => document.querySelector("p")?.textContent

describe("tokenStore in a Svelte 5 component ($store)", () => {
  it("goes from signed-out to ready to refreshed to signed-out", async () => {
    const view = mount(TokenView, { target: document.body, props: { client } })
    await settle()
    expect(text()).toBe("signed-out:none")
    expect(source.requests).toHaveLength(0)

    client.setSession("sess_1")
    await settle()
    const first = text()
    expect(first).toMatch(/^ready:ey/)
    expect(source.requests).toHaveLength(1)

    // Background refresh at expiresAt − 10 s buffer (no jitter).
    await vi.advanceTimersByTimeAsync(50_000)
    flushSync()
    expect(source.requests).toHaveLength(2)
    expect(text()).toMatch(/^ready:ey/)
    expect(text()).not.toBe(first)

    client.setSession(null)
    await settle()
    expect(text()).toBe("signed-out:none")
    unmount(view)
  })

  it("unmounting unsubscribes and stops background refresh", async () => {
    client.setSession("sess_1")
    const view = mount(TokenView, { target: document.body, props: { client } })
    await settle()
    expect(source.requests).toHaveLength(1)
    unmount(view)
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests).toHaveLength(1)
  })

  it("a new store for a new key moves the subscription to it", async () => {
    client.setSession("sess_1")
    const view = mount(TokenView, { target: document.body, props: { client, template: "a" } })
    await settle()
    document.querySelector("button")!.click()
    await settle()
    expect(source.requests.map((r) => r.template)).toEqual(["a", "other"])
    expect(text()).toMatch(/^ready:ey/)

    // Only the new key is kept fresh.
    await vi.advanceTimersByTimeAsync(50_000)
    expect(source.requests.map((r) => r.template)).toEqual(["a", "other", "other"])
    unmount(view)
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests).toHaveLength(3)
  })
})

describe("tokenStore as a store", () => {
  it("makes no request until subscribed", async () => {
    client.setSession("sess_1")
    tokenStore(client, { template: "t" })
    await vi.advanceTimersByTimeAsync(60_000)
    expect(source.requests).toHaveLength(0)
  })

  it("calls a subscriber exactly once at once with the current state", async () => {
    client.setSession("sess_1")
    await client.getToken()
    const store = tokenStore(client)
    const seen: Array<TokenState> = []
    const stop = store.subscribe((state) => seen.push(state))
    expect(seen).toHaveLength(1)
    expect(seen[0]!.status).toBe("ready")
    expect(get(store).status).toBe("ready")
    stop()
  })

  it("starts with the first subscriber and stops after the last", async () => {
    client.setSession("sess_1")
    const store = tokenStore(client)
    const a = store.subscribe(() => undefined)
    const b = store.subscribe(() => undefined)
    await settle()
    expect(source.requests).toHaveLength(1)
    a()
    await vi.advanceTimersByTimeAsync(50_000)
    expect(source.requests).toHaveLength(2) // still kept fresh for `b`
    b()
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests).toHaveLength(2)
  })

  it("refresh() resolves once the new token is in the store", async () => {
    client.setSession("sess_1")
    const store = tokenStore(client)
    let state: TokenState | undefined
    const stop = store.subscribe((next) => (state = next))
    await settle()
    const first = state?.status === "ready" ? state.token.jwt : undefined
    const done = store.refresh()
    await vi.advanceTimersByTimeAsync(0)
    await done
    expect(source.requests).toHaveLength(2)
    expect(state?.status === "ready" && state.token.jwt).not.toBe(first)
    stop()
  })

  it("whenReady() resolves the JWT once the key has answered, then lets it go", async () => {
    client.setSession("sess_1")
    const store = tokenStore(client, { template: "t" })
    const ready = store.whenReady()
    await settle()
    expect(await ready).toMatch(/^ey/)
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests).toHaveLength(1)
  })

  it("shows a permanent failure as the error state", async () => {
    client.setSession("sess_1")
    source.enqueue({ fail: { status: 403 } })
    const store = tokenStore(client)
    const stop = store.subscribe(() => undefined)
    await settle()
    const state = get(store)
    expect(state.status).toBe("error")
    expect(state.status === "error" && state.error).toBeInstanceOf(TokenRequestError)
    stop()
  })
})

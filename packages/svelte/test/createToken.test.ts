import { flushSync, hydrate, mount, unmount } from "svelte"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { createTokenClient, type TokClient } from "@tok/svelte"
import { makeFakeSource, type FakeSource } from "@tok/core/testing"
import RunesView from "./fixtures/RunesView.svelte"
import { runesViewHtml } from "./fixtures/serverHtml.ts"
import WithClient from "./fixtures/WithClient.svelte"

let source: FakeSource
let client: TokClient

beforeEach(() => {
  vi.useFakeTimers()
  source = makeFakeSource({ lifetimeSeconds: 60 })
  client = createTokenClient({ source: source.layer, session: null, refreshJitter: 0 })
})

afterEach(async () => {
  await client.dispose()
  vi.restoreAllMocks()
  vi.useRealTimers()
  document.body.innerHTML = ""
})

/** Lets fibers and promises run without moving the clock, then flushes Svelte. */
const settle = async () => {
  await vi.advanceTimersByTimeAsync(0)
  flushSync()
}

const text = () => document.querySelector("p")?.textContent

describe("createToken (runes)", () => {
  it("goes from signed-out to ready to refreshed to signed-out", async () => {
    const view = mount(RunesView, { target: document.body, props: { client } })
    await settle()
    expect(text()).toBe("signed-out:none")
    expect(source.requests).toHaveLength(0)

    client.setSession("sess_1")
    await settle()
    const first = text()
    expect(first).toMatch(/^ready:ey/)
    expect(source.requests).toHaveLength(1)

    await vi.advanceTimersByTimeAsync(50_000) // background refresh at expiresAt − 10 s
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
    const view = mount(RunesView, { target: document.body, props: { client } })
    await settle()
    expect(source.requests).toHaveLength(1)
    unmount(view)
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests).toHaveLength(1)
  })

  it("a key change moves the subscription: only the new key is kept fresh", async () => {
    client.setSession("sess_1")
    const view = mount(RunesView, { target: document.body, props: { client, template: "a" } })
    await settle()
    document.querySelector("button")!.click()
    await settle()
    expect(source.requests.map((r) => r.template)).toEqual(["a", "other"])
    expect(text()).toMatch(/^ready:ey/)
    await vi.advanceTimersByTimeAsync(50_000)
    expect(source.requests.map((r) => r.template)).toEqual(["a", "other", "other"])
    unmount(view)
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests).toHaveLength(3)
  })

  it("options that re-run to the same key keep the watcher: no refetch, no loading flash", async () => {
    // Without background refresh, a token inside the buffer stays shown until it expires;
    // a watcher that restarted would refetch it at once.
    await client.dispose()
    client = createTokenClient({ source: source.layer, session: "sess_1", autoRefresh: false })
    const view = mount(RunesView, { target: document.body, props: { client, template: "other" } })
    await settle()
    const shown = text()
    await vi.advanceTimersByTimeAsync(55_000) // inside the 10 s buffer, still valid
    document.querySelector("button")!.click() // `options()` re-runs: { template: "other" } again
    await settle()
    expect(source.requests).toHaveLength(1)
    expect(text()).toBe(shown)
    unmount(view)
  })

  it("enabled: false switches the watcher off", async () => {
    client.setSession("sess_1")
    const view = mount(RunesView, { target: document.body, props: { client, enabled: false } })
    await vi.advanceTimersByTimeAsync(60_000)
    flushSync()
    expect(source.requests).toHaveLength(0)
    expect(text()).toBe("loading:none")
    unmount(view)
  })

  it("finds the client setTokClient gave a parent", async () => {
    client.setSession("sess_1")
    const view = mount(WithClient, { target: document.body, props: { client, template: "t" } })
    await settle()
    expect(text()).toMatch(/^ready:ey/)
    expect(source.requests.map((r) => r.template)).toEqual(["t"])
    unmount(view)
  })

  it("hydrates the server's HTML without a mismatch, then fetches", async () => {
    const warn = vi.spyOn(console, "warn")
    const error = vi.spyOn(console, "error")
    client.setSession("sess_1")
    await client.getToken({ template: "t" }) // the browser could show a token at once: it must not, yet
    const before = source.requests.length
    document.body.innerHTML = runesViewHtml
    const serverNode = document.querySelector("p")
    const view = hydrate(RunesView, { target: document.body, props: { client, template: "t" } })
    expect(warn).not.toHaveBeenCalled()
    expect(error).not.toHaveBeenCalled()
    expect(document.querySelector("p")).toBe(serverNode) // the server's node was kept
    expect(text()).toBe("loading:none")
    await settle()
    expect(text()).toMatch(/^ready:ey/)
    expect(source.requests.length).toBe(before) // a cache hit: it is watched now
    await vi.advanceTimersByTimeAsync(50_000)
    expect(source.requests.length).toBe(before + 1) // and kept fresh
    unmount(view)
  })
})

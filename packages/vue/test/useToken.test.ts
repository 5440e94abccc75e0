import { mount } from "@vue/test-utils"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { createApp, defineComponent, effectScope, h, isReadonly, nextTick, ref } from "vue"
import {
  createTok,
  createTokenClient,
  type TokClient,
  TokenRequestError,
  useTokClient,
  useToken,
  type UseTokenOptions,
  type UseTokenReturn,
  type WatchOptions,
} from "@tok/vue"
import { makeFakeSource, type FakeSource } from "@tok/core/testing"

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
})

/** Lets fibers, promises and Vue's scheduler run without moving the clock. */
const settle = async () => {
  await vi.advanceTimersByTimeAsync(0)
  await nextTick()
}

/** Mounts a component that renders `useToken(options)` and hands back what it returned. */
const mountWithToken = (options?: Parameters<typeof useToken>[0]) => {
  let result!: UseTokenReturn
  const Probe = defineComponent({
    setup() {
      result = useToken(options)
      return () => h("p", `${result.status.value}:${result.token.value ?? "none"}`)
    },
  })
  const wrapper = mount(Probe, { global: { plugins: [createTok(client)] } })
  return { wrapper, result: () => result }
}

describe("useToken in a component", () => {
  it("goes from signed-out to ready to refreshed to signed-out", async () => {
    const { wrapper, result } = mountWithToken()
    await settle()
    expect(result().status.value).toBe("signed-out")
    expect(wrapper.text()).toBe("signed-out:none")
    expect(source.requests).toHaveLength(0)

    client.setSession("sess_1")
    await settle()
    expect(result().status.value).toBe("ready")
    const first = result().token.value
    expect(first).toMatch(/^ey/)
    expect(wrapper.text()).toBe(`ready:${first}`)
    expect(result().expiresAt.value).toBe(Date.now() + 60_000)
    expect(result().error.value).toBe(null)

    // Background refresh at expiresAt − 10 s buffer (no jitter).
    await vi.advanceTimersByTimeAsync(50_000)
    await nextTick()
    expect(source.requests).toHaveLength(2)
    expect(result().status.value).toBe("ready")
    expect(result().token.value).not.toBe(first)
    expect(wrapper.text()).toBe(`ready:${result().token.value}`)

    client.setSession(null)
    await settle()
    expect(result().status.value).toBe("signed-out")
    expect(result().token.value).toBe(null)
    expect(result().expiresAt.value).toBe(null)
    expect(wrapper.text()).toBe("signed-out:none")
    wrapper.unmount()
  })

  it("returns readonly refs", () => {
    const { wrapper, result } = mountWithToken()
    const { token, status, error, expiresAt } = result()
    for (const r of [token, status, error, expiresAt]) expect(isReadonly(r)).toBe(true)
    wrapper.unmount()
  })

  it("unmounting unsubscribes and stops background refresh", async () => {
    client.setSession("sess_1")
    const { wrapper } = mountWithToken()
    await settle()
    expect(source.requests).toHaveLength(1)
    wrapper.unmount()
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests).toHaveLength(1)
  })

  it("moves to the new key when a ref of options changes", async () => {
    client.setSession("sess_1")
    const options = ref<WatchOptions>({ template: "a" })
    const { wrapper, result } = mountWithToken(options)
    await settle()
    expect(source.requests.map((r) => r.template)).toEqual(["a"])
    const a = result().token.value

    options.value = { template: "a" } // same value, new object: no change of key
    await settle()
    expect(source.requests).toHaveLength(1)

    options.value = { template: "b" }
    await settle()
    expect(source.requests.map((r) => r.template)).toEqual(["a", "b"])
    expect(result().token.value).not.toBe(a)

    // Only "b" is kept fresh now.
    await vi.advanceTimersByTimeAsync(50_000)
    expect(source.requests.map((r) => r.template)).toEqual(["a", "b", "b"])
    wrapper.unmount()
  })

  it("an option change to the same key (the default buffer spelled out) keeps the watcher: no loading flash, no refetch", async () => {
    // Without background refresh, a token inside the buffer stays shown until it expires.
    await client.dispose()
    client = createTokenClient({ source: source.layer, session: "sess_1", autoRefresh: false })
    const options = ref<WatchOptions>({})
    const { wrapper, result } = mountWithToken(options)
    await settle()
    const shown = result().token.value
    await vi.advanceTimersByTimeAsync(55_000) // inside the 10 s buffer, still valid
    options.value = { expirationBuffer: 10 }
    await settle()
    expect(source.requests).toHaveLength(1)
    expect(result().status.value).toBe("ready")
    expect(result().token.value).toBe(shown)
    wrapper.unmount()
  })

  it("moves to the new key when a getter's dependencies change", async () => {
    client.setSession("sess_1")
    const org = ref("org_1")
    const { wrapper, result } = mountWithToken(() => ({ organizationId: org.value }))
    await settle()
    org.value = "org_2"
    await settle()
    expect(source.requests.map((r) => r.organizationId)).toEqual(["org_1", "org_2"])
    expect(result().status.value).toBe("ready")
    wrapper.unmount()
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests).toHaveLength(2)
  })

  it("refresh() fetches past the cache and resolves with the new token in the refs", async () => {
    client.setSession("sess_1")
    const { wrapper, result } = mountWithToken({ template: "t" })
    await settle()
    const first = result().token.value
    const done = result().refresh()
    await vi.advanceTimersByTimeAsync(0)
    await done
    expect(source.requests).toHaveLength(2)
    expect(result().token.value).not.toBe(first)
    wrapper.unmount()
  })

  it("shows a permanent failure as the error status", async () => {
    client.setSession("sess_1")
    source.enqueue({ fail: { status: 403 } })
    const { wrapper, result } = mountWithToken()
    await settle()
    expect(result().status.value).toBe("error")
    expect(result().error.value).toBeInstanceOf(TokenRequestError)
    expect(result().token.value).toBe(null)
    wrapper.unmount()
  })

  it("null options or enabled: false switch the watcher off instead of watching the default key", async () => {
    client.setSession("sess_1")
    const options = ref<UseTokenOptions | null>(null)
    const { wrapper, result } = mountWithToken(options)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(source.requests).toHaveLength(0)
    expect(result().status.value).toBe("loading")
    expect(await result().whenReady()).toBe(null)

    options.value = { template: "a" }
    await settle()
    expect(source.requests.map((r) => r.template)).toEqual(["a"])
    expect(result().status.value).toBe("ready")

    options.value = { template: "a", enabled: false }
    await settle()
    expect(result().status.value).toBe("loading")
    expect(result().token.value).toBe(null)
    await result().refresh()
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests).toHaveLength(1) // switched off: no refresh, no refetch
    wrapper.unmount()
  })

  it("whenReady() resolves the JWT once the key has answered, null when signed out", async () => {
    const { wrapper, result } = mountWithToken({ template: "t" })
    await settle()
    expect(await result().whenReady()).toBe(null)
    client.setSession("sess_1")
    source.enqueue({ delayMs: 1_000 })
    const ready = result().whenReady()
    await vi.advanceTimersByTimeAsync(1_000)
    const jwt = await ready
    expect(jwt).toMatch(/^ey/)
    await nextTick()
    expect(result().token.value).toBe(jwt)
    expect(source.requests).toHaveLength(1) // it shares the component's watcher
    wrapper.unmount()
  })

  it("whenReady() rejects with the TokenError of a failed key", async () => {
    client.setSession("sess_1")
    source.enqueue({ fail: { status: 403 } })
    const { wrapper, result } = mountWithToken()
    const ready = result()
      .whenReady()
      .catch((e: unknown) => e)
    await settle()
    expect(await ready).toBeInstanceOf(TokenRequestError)
    wrapper.unmount()
  })

  it("useTokClient returns the installed client and throws without one", () => {
    let found: TokClient | undefined
    const Probe = defineComponent({
      setup() {
        found = useTokClient()
        return () => null
      },
    })
    mount(Probe, { global: { plugins: [createTok(client)] } }).unmount()
    expect(found).toBe(client)
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined)
    expect(() => mount(Probe)).toThrow(/createTok/)
    warn.mockRestore()
  })
})

describe("useToken in an effectScope", () => {
  it("subscribes at once and stops when the scope stops", async () => {
    client.setSession("sess_1")
    const app = createApp({ render: () => null }).use(createTok(client))
    const scope = effectScope()
    const result = app.runWithContext(() => scope.run(() => useToken()))!
    await settle()
    expect(result.status.value).toBe("ready")
    await vi.advanceTimersByTimeAsync(50_000)
    expect(source.requests).toHaveLength(2)

    scope.stop()
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests).toHaveLength(2)
  })
})

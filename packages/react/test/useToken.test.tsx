import { act, cleanup, render, renderHook } from "@testing-library/react"
import { StrictMode, type ReactNode } from "react"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import {
  createTokenClient,
  type TokClient,
  TokenRequestError,
  TokProvider,
  useTokClient,
  useToken,
  type UseTokenOptions,
  type UseTokenResult,
} from "@tok/react"
import { inspectClient, makeFakeSource, type FakeSource } from "@tok/core/testing"
import { advance, countingSubscriptions, settle } from "./support.tsx"

let source: FakeSource
let client: TokClient

beforeEach(() => {
  vi.useFakeTimers()
  source = makeFakeSource({ lifetimeSeconds: 60 })
  client = createTokenClient({ source: source.layer, session: null, refreshJitter: 0 })
})

afterEach(async () => {
  cleanup()
  await client.dispose()
  vi.useRealTimers()
})

/** Renders a component that shows `useToken(options)`, and hands back what it returned last. */
const renderToken = (options?: UseTokenOptions | null, tokClient: TokClient = client) => {
  let result!: UseTokenResult
  const Probe = (props: { options?: UseTokenOptions | null | undefined }) => {
    result = useToken(props.options)
    return (
      <p>
        {result.status}:{result.token ?? "none"}
      </p>
    )
  }
  const view = render(<Probe options={options} />, {
    wrapper: ({ children }: { children: ReactNode }) => (
      <TokProvider client={tokClient}>{children}</TokProvider>
    ),
  })
  return {
    view,
    result: () => result,
    text: () => view.container.textContent,
    rerender: (next?: UseTokenOptions | null) => view.rerender(<Probe options={next} />),
  }
}

describe("useToken", () => {
  it("subscribes on mount: signed-out, ready, refreshed in the background, signed-out", async () => {
    const { result, text } = renderToken()
    await settle()
    expect(result().status).toBe("signed-out")
    expect(text()).toBe("signed-out:none")
    expect(source.requests).toHaveLength(0)

    act(() => client.setSession("sess_1"))
    await settle()
    expect(result().status).toBe("ready")
    const first = result().token
    expect(first).toMatch(/^ey/)
    expect(text()).toBe(`ready:${first}`)
    expect(result().expiresAt).toBe(Date.now() + 60_000)
    expect(result().error).toBe(null)

    // Background refresh at expiresAt − 10 s buffer (no jitter).
    await advance(50_000)
    expect(source.requests).toHaveLength(2)
    expect(result().token).not.toBe(first)
    expect(text()).toBe(`ready:${result().token}`)

    act(() => client.setSession(null))
    await settle()
    expect(result()).toMatchObject({ status: "signed-out", token: null, expiresAt: null })
    expect(text()).toBe("signed-out:none")
  })

  it("unmounting unsubscribes: no timer, fiber or watched key is left", async () => {
    client.setSession("sess_1")
    const { view } = renderToken({ template: "t" })
    await settle()
    expect(source.requests).toHaveLength(1)
    expect(inspectClient(client).watchedKeys).toBe(1)

    view.unmount()
    await settle()
    expect(inspectClient(client)).toMatchObject({ fibers: 0, requests: 0, watchedKeys: 0 })
    expect(vi.getTimerCount()).toBe(0)
    await advance(10 * 60_000)
    expect(source.requests).toHaveLength(1)
  })

  it("a re-render with an equal options object keeps the subscription", async () => {
    client.setSession("sess_1")
    const counted = countingSubscriptions(client)
    const { rerender, result } = renderToken({ template: "a" }, counted.client)
    await settle()
    const before = result()
    rerender({ template: "a" })
    rerender({ template: "a", organizationId: undefined })
    await settle()
    expect(counted.subscribes()).toBe(1)
    expect(source.requests).toHaveLength(1)
    // Nothing changed, so the result is the same object (safe in a dependency list).
    expect(result()).toBe(before)
  })

  it("a different key moves the subscription, and only the new key is kept fresh", async () => {
    client.setSession("sess_1")
    const counted = countingSubscriptions(client)
    const { rerender, result } = renderToken({ template: "a" }, counted.client)
    await settle()
    const a = result().token
    rerender({ template: "b" })
    await settle()
    expect(source.requests.map((r) => r.template)).toEqual(["a", "b"])
    expect(result().token).not.toBe(a)
    expect(counted.live()).toBe(1)
    await advance(50_000)
    expect(source.requests.map((r) => r.template)).toEqual(["a", "b", "b"])
  })

  it("the same key spelled another way (the default buffer spelled out): no refetch, no loading flash", async () => {
    // Without background refresh, a token inside the buffer stays shown until it expires.
    await client.dispose()
    client = createTokenClient({ source: source.layer, session: "sess_1", autoRefresh: false })
    const { rerender, result } = renderToken({})
    await settle()
    const shown = result().token
    await advance(55_000) // inside the 10 s buffer, still valid
    rerender({ expirationBuffer: 10 })
    await settle()
    expect(source.requests).toHaveLength(1)
    expect(result()).toMatchObject({ status: "ready", token: shown })
  })

  it("StrictMode's double mount makes one request and leaves one subscription", async () => {
    client.setSession("sess_1")
    const counted = countingSubscriptions(client)
    let result!: UseTokenResult
    const Probe = () => {
      result = useToken({ template: "t" })
      return null
    }
    const view = render(
      <StrictMode>
        <TokProvider client={counted.client}>
          <Probe />
        </TokProvider>
      </StrictMode>,
    )
    await settle()
    expect(result.status).toBe("ready")
    expect(source.requests).toHaveLength(1)
    expect(counted.live()).toBe(1)
    view.unmount()
    await settle()
    expect(counted.live()).toBe(0)
    expect(inspectClient(client).watchedKeys).toBe(0)
  })

  it("enabled: false (or null) watches nothing until it is switched on", async () => {
    client.setSession("sess_1")
    const { rerender, result } = renderToken({ enabled: false })
    await settle()
    expect(result()).toMatchObject({ status: "loading", token: null, error: null })
    await result().refresh()
    expect(await result().whenReady()).toBe(null)
    expect(source.requests).toHaveLength(0)
    expect(inspectClient(client).watchedKeys).toBe(0)

    rerender({ enabled: true })
    await settle()
    expect(result().status).toBe("ready")
    expect(source.requests).toHaveLength(1)

    rerender({ enabled: false })
    await settle()
    expect(result().status).toBe("loading")
    expect(inspectClient(client).watchedKeys).toBe(0)

    // `null` switches it off too.
    rerender({})
    await settle()
    expect(inspectClient(client).watchedKeys).toBe(1)
    rerender(null)
    await settle()
    expect(result()).toMatchObject({ status: "loading", token: null })
    expect(inspectClient(client).watchedKeys).toBe(0)
  })

  it("refresh() fetches past the cache; the new token is rendered", async () => {
    client.setSession("sess_1")
    const { result } = renderToken({ template: "t" })
    await settle()
    const first = result().token
    await act(async () => {
      const done = result().refresh()
      await vi.advanceTimersByTimeAsync(0)
      await done
    })
    expect(source.requests).toHaveLength(2)
    expect(result().token).not.toBe(first)
  })

  it("shows a permanent failure as the error status", async () => {
    client.setSession("sess_1")
    source.enqueue({ fail: { status: 403 } })
    const { result } = renderToken()
    await settle()
    expect(result().status).toBe("error")
    expect(result().error).toBeInstanceOf(TokenRequestError)
    expect(result().token).toBe(null)
  })

  it("whenReady() resolves the JWT, null when signed out, and rejects with the error", async () => {
    const { result } = renderToken()
    await settle()
    expect(await result().whenReady()).toBe(null)

    act(() => client.setSession("sess_1"))
    const ready = result().whenReady()
    await settle()
    expect(await ready).toBe(result().token)
    expect(await ready).toMatch(/^ey/)

    source.enqueue({ fail: { status: 403 } })
    const other = renderToken({ template: "broken" })
    const failed = other
      .result()
      .whenReady()
      .then(
        () => "resolved",
        (error: unknown) => error,
      )
    await settle()
    expect(await failed).toBeInstanceOf(TokenRequestError)
  })

  it("useTokClient returns the provided client and throws without a provider", () => {
    const { result } = renderHook(() => useTokClient(), {
      wrapper: ({ children }: { children: ReactNode }) => (
        <TokProvider client={client}>{children}</TokProvider>
      ),
    })
    expect(result.current).toBe(client)
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined)
    expect(() => renderHook(() => useToken())).toThrow(/TokProvider/)
    error.mockRestore()
  })
})

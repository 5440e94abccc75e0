import { act, cleanup, render } from "@testing-library/react"
import { StrictMode, Suspense } from "react"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import {
  createTokenClient,
  type TokClient,
  TokenRequestError,
  TokProvider,
  useSuspenseToken,
  type UseTokenResult,
  type WatchOptions,
} from "@tok/react"
import { inspectClient, makeFakeSource, type FakeSource } from "@tok/core/testing"
import { advance, settle } from "./support.tsx"

let source: FakeSource
let client: TokClient

beforeEach(() => {
  vi.useFakeTimers()
  source = makeFakeSource({ lifetimeSeconds: 60, delayMs: 100 })
  client = createTokenClient({ source: source.layer, session: "sess_1", refreshJitter: 0 })
})

afterEach(async () => {
  cleanup()
  await client.dispose()
  vi.useRealTimers()
})

const renderSuspense = (options?: WatchOptions, strict = false) => {
  let result: UseTokenResult | undefined
  const Probe = () => {
    result = useSuspenseToken(options)
    return (
      <p>
        {result.status}:{result.token ?? "none"}
      </p>
    )
  }
  const tree = (
    <TokProvider client={client}>
      <Suspense fallback={<p>fallback</p>}>
        <Probe />
      </Suspense>
    </TokProvider>
  )
  const view = render(strict ? <StrictMode>{tree}</StrictMode> : tree)
  return { view, result: () => result, text: () => view.container.textContent }
}

describe("useSuspenseToken", () => {
  it("suspends until the first token, then renders with it", async () => {
    const { result, text } = renderSuspense({ template: "t" })
    expect(text()).toBe("fallback")
    expect(result()).toBeUndefined()
    await advance(100)
    expect(result()?.status).toBe("ready")
    expect(result()?.token).toMatch(/^ey/)
    expect(text()).toBe(`ready:${result()?.token}`)
    expect(source.requests).toHaveLength(1)
    // Mounted, it keeps the key fresh like useToken.
    await advance(50_000)
    expect(source.requests).toHaveLength(2)
  })

  it("renders at once from the cache, and signed out without suspending", async () => {
    await act(async () => {
      const token = client.getToken()
      await vi.advanceTimersByTimeAsync(100)
      await token
    })
    const cached = renderSuspense()
    expect(cached.text()).toMatch(/^ready:ey/)
    cached.view.unmount()

    client.setSession(null)
    const signedOut = renderSuspense()
    expect(signedOut.text()).toBe("signed-out:none")
    expect(source.requests).toHaveLength(1)
  })

  it("a permanent failure renders the error, and asks again only once mounted", async () => {
    source.enqueue({ fail: { status: 403 } }, { fail: { status: 403 } })
    const { result, text } = renderSuspense({ template: "broken" })
    expect(text()).toBe("fallback")
    await advance(100)
    expect(result()?.status).toBe("error")
    expect(result()?.error).toBeInstanceOf(TokenRequestError)
    await advance(100)
    expect(text()).toBe("error:none")
    // The suspended render's fetch, then the mounted watcher's: no loop of suspending and asking.
    await advance(5_000)
    expect(source.requests).toHaveLength(2)
    expect(text()).toBe("error:none")
  })

  it("StrictMode makes one request, and unmounting leaves nothing running", async () => {
    const { view, text } = renderSuspense({ template: "t" }, true)
    await advance(100)
    expect(text()).toMatch(/^ready:ey/)
    expect(source.requests).toHaveLength(1)
    view.unmount()
    await settle()
    expect(inspectClient(client)).toMatchObject({ fibers: 0, requests: 0, watchedKeys: 0 })
    expect(vi.getTimerCount()).toBe(0)
  })
})

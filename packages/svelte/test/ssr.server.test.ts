import { render } from "svelte/server"
import { afterEach, describe, expect, it, vi } from "vitest"
import { createTokenClient, type TokClient, tokenStore } from "@tok/svelte"
import { makeFakeSource, type FakeSource } from "@tok/core/testing"
import RunesView from "./fixtures/RunesView.svelte"
import StoreView from "./fixtures/StoreView.svelte"
import { runesViewHtml } from "./fixtures/serverHtml.ts"
import WithClient from "./fixtures/WithClient.svelte"

afterEach(() => {
  vi.useRealTimers()
})

/** A server-side client that even holds a token for the key: it must not reach the HTML. */
const serverClient = async (): Promise<{ source: FakeSource; client: TokClient }> => {
  const source = makeFakeSource()
  const client = createTokenClient({ source: source.layer, session: "sess_1" })
  await client.getToken({ template: "t" })
  return { source, client }
}

describe("rendering on the server (svelte/server)", () => {
  it("createToken renders the initial state: no request, no timer, no token in the HTML", async () => {
    vi.useFakeTimers()
    const { source, client } = await serverClient()
    const before = source.requests.length
    const { body } = render(RunesView, { props: { client, template: "t" } })
    expect(body).toBe(runesViewHtml)
    expect(body).not.toContain("eyJ")
    const viaContext = render(WithClient, { props: { client, template: "t" } })
    expect(viaContext.body).toContain("<p>loading:none</p>")
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests.length - before).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    await client.dispose()
  })

  it("tokenStore ($store) renders the initial state: no request, no timer, no token in the HTML", async () => {
    vi.useFakeTimers()
    const { source, client } = await serverClient()
    const before = source.requests.length
    const { body } = render(StoreView, { props: { client } })
    expect(body).toContain("<p>loading:none</p>")
    expect(body).not.toContain("eyJ")
    const store = tokenStore(client, { template: "t" })
    expect(await store.whenReady()).toBe(null)
    await store.refresh()
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests.length - before).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    await client.dispose()
  })

  it("without setTokClient, says what is missing", () => {
    expect(() => render(RunesView, { props: { template: "t" } }).body).toThrow(/setTokClient/)
  })
})

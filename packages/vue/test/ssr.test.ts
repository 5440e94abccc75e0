// @vitest-environment node
import { renderToString } from "@vue/server-renderer"
import { afterEach, describe, expect, it, vi } from "vitest"
import { createSSRApp, defineComponent, effectScope, h, onServerPrefetch } from "vue"
import { createTok, createTokenClient, useToken } from "@tok/vue"
import { makeFakeSource } from "@tok/core/testing"

afterEach(() => {
  vi.useRealTimers()
})

describe("useToken during server-side rendering", () => {
  it("renders the initial state with no request, no timer and no token in the HTML", async () => {
    vi.useFakeTimers()
    const source = makeFakeSource()
    const client = createTokenClient({ source: source.layer, session: "sess_1" })
    // The server's client even holds a token for the key: it must not reach the HTML.
    await client.getToken({ template: "t" })
    const before = source.requests.length
    let prefetched: string | null | undefined
    const Page = defineComponent({
      setup() {
        const { status, token, whenReady, refresh } = useToken({ template: "t" })
        onServerPrefetch(async () => {
          prefetched = await whenReady()
          await refresh()
        })
        return () => h("p", `${status.value}:${token.value ?? "none"}`)
      },
    })
    const app = createSSRApp(Page).use(createTok(client))
    const html = await renderToString(app)
    expect(html).toBe("<p>loading:none</p>")
    expect(html).not.toContain("eyJ")
    expect(prefetched).toBe(null)

    // Nor outside a component: an effectScope on the server does not subscribe.
    const scope = effectScope()
    const outside = app.runWithContext(() => scope.run(() => useToken()))!
    expect(await outside.whenReady()).toBe(null)
    scope.stop()

    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests.length - before).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    await client.dispose()
  })

  it("renders the initialState it is given, the same on both sides", async () => {
    const source = makeFakeSource()
    const client = createTokenClient({ source: source.layer, session: null })
    const Page = defineComponent({
      setup() {
        const { status } = useToken(undefined, { initialState: { status: "signed-out" } })
        return () => h("p", status.value)
      },
    })
    expect(await renderToString(createSSRApp(Page).use(createTok(client)))).toBe(
      "<p>signed-out</p>",
    )
    expect(source.requests).toHaveLength(0)
    await client.dispose()
  })
})

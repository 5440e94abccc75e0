// @vitest-environment node
import { renderToString } from "@vue/server-renderer"
import { afterEach, describe, expect, it, vi } from "vitest"
import { createSSRApp, defineComponent, effectScope, h } from "vue"
import { createTok, createTokenClient, useToken } from "@tok/vue"
import { makeFakeSource } from "@tok/core/testing"

afterEach(() => {
  vi.useRealTimers()
})

describe("useToken during server-side rendering", () => {
  it("renders without requests or timers", async () => {
    vi.useFakeTimers()
    const source = makeFakeSource()
    const client = createTokenClient({ source: source.layer, session: "sess_1" })
    const Page = defineComponent({
      setup() {
        const { status, token } = useToken({ template: "t" })
        return () => h("p", `${status.value}:${token.value ?? "none"}`)
      },
    })
    const app = createSSRApp(Page).use(createTok(client))
    const html = await renderToString(app)
    expect(html).toBe("<p>loading:none</p>")

    // Nor outside a component: an effectScope on the server does not subscribe.
    const scope = effectScope()
    app.runWithContext(() => scope.run(() => useToken()))
    scope.stop()

    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests).toHaveLength(0)
    expect(vi.getTimerCount()).toBe(0)
    await client.dispose()
  })
})

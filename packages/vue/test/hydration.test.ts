import { renderToString } from "@vue/server-renderer"
import { afterEach, describe, expect, it, vi } from "vitest"
import { createSSRApp, defineComponent, h, nextTick } from "vue"
import { createTok, createTokenClient, useToken } from "@tok/vue"
import { makeFakeSource } from "@tok/core/testing"

afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
  document.body.innerHTML = ""
})

const Page = defineComponent({
  setup() {
    const { status, token } = useToken({ template: "t" })
    return () =>
      status.value === "ready"
        ? h("p", { class: "ready" }, `ready:${token.value}`)
        : h("p", `${status.value}:${token.value ?? "none"}`)
  },
})

describe("useToken when the browser hydrates server-rendered HTML", () => {
  it("hydrates without a mismatch and fetches once mounted", async () => {
    vi.useFakeTimers()
    const warn = vi.spyOn(console, "warn")
    const error = vi.spyOn(console, "error")
    // The server: signed out.
    const serverSource = makeFakeSource()
    const server = createTokenClient({ source: serverSource.layer, session: null })
    const html = await renderToString(createSSRApp(Page).use(createTok(server)))
    expect(html).toBe("<p>loading:none</p>")

    // The browser: signed in, a token already cached (what would render differently).
    const source = makeFakeSource()
    const browser = createTokenClient({ source: source.layer, session: "sess_1" })
    await browser.getToken({ template: "t" })
    const container = document.createElement("div")
    container.innerHTML = html
    document.body.append(container)
    const hydrated = container.firstElementChild
    createSSRApp(Page).use(createTok(browser)).mount(container)
    expect(warn).not.toHaveBeenCalled()
    expect(error).not.toHaveBeenCalled()
    expect(container.firstElementChild).toBe(hydrated) // the server's node was kept

    await vi.advanceTimersByTimeAsync(0)
    await nextTick()
    expect(container.textContent).toMatch(/^ready:eyJ/)
    expect(serverSource.requests).toHaveLength(0)
    await server.dispose()
    await browser.dispose()
  })

  it("a browser that is not signed in fetches nothing and shows signed-out after mount", async () => {
    vi.useFakeTimers()
    const source = makeFakeSource()
    const browser = createTokenClient({ source: source.layer, session: null })
    const container = document.createElement("div")
    container.innerHTML = "<p>loading:none</p>"
    createSSRApp(Page).use(createTok(browser)).mount(container)
    await vi.advanceTimersByTimeAsync(0)
    await nextTick()
    expect(container.textContent).toBe("signed-out:none")
    expect(source.requests).toHaveLength(0)
    await browser.dispose()
  })
})

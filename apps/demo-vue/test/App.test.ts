import { flushPromises, mount, type VueWrapper } from "@vue/test-utils"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { createTok, createTokenClient, fromFunction, type TokClient } from "@tok/vue"
import {
  type FakeTokenServer,
  fakeTokenServer,
  jwtFor,
  testConfig as config,
} from "@tok/demo-shared/testing"
import App from "../src/App.vue"

/** Waits (up to 2 s) until `probe` returns something, letting Vue render as it goes. */
const until = async <A>(probe: () => A | null | undefined | false): Promise<A> => {
  for (let i = 0; i < 200; i++) {
    await flushPromises()
    const value = probe()
    if (value !== null && value !== undefined && value !== false) return value
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error("timed out")
}

describe("the Vue demo page", () => {
  let client: TokClient
  let wrapper: VueWrapper | undefined
  let server: FakeTokenServer

  beforeEach(() => {
    server = fakeTokenServer()
    vi.stubGlobal("fetch", server.fetch)
    client = createTokenClient({
      source: fromFunction(async (request) => jwtFor(request.sessionId, request.template)),
    })
  })
  afterEach(async () => {
    wrapper?.unmount()
    await client.dispose()
    vi.unstubAllGlobals()
  })

  const mountPage = () => {
    wrapper = mount(App, { props: { config }, global: { plugins: [createTok(client)] } })
    const page = wrapper
    const text = (id: string) => page.find(`[data-testid="${id}"]`).text()
    return { page, text }
  }

  it("signs the typed user in on the token server, then shows the session token's claims", async () => {
    const { page, text } = mountPage()
    await flushPromises()
    expect(text("status")).toBe("Signed out")
    expect(text("jwt")).toBe("—")
    await page.find('[data-testid="user-id"]').setValue(" user_bob ")
    await page.find("form").trigger("submit")
    await until(() => text("status") === "Ready")
    expect(server.calls).toContain("POST http://127.0.0.1:9/v1/client/sessions user_id=user_bob")
    expect(client.session).toBe("sess_1")
    expect(text("session-id")).toBe("sess_1")
    expect(page.find('[data-claim="sid"] td').text()).toBe("sess_1")
    expect(text("countdown")).toMatch(/^(1 min 0[01] s|59 s)$/)
  })

  it("shows the picked template's token, then the session token again", async () => {
    client.setSession("sess_1")
    const { page, text } = mountPage()
    await until(() => page.find('[data-claim="sid"]').exists())
    await until(() => text("requests") === "This page: 1 token request")
    await page.find('[data-testid="template"]').setValue("supabase")
    const tpl = () => page.find('[data-claim="tpl"] td')
    expect(await until(() => tpl().exists() && tpl().text())).toBe("supabase")
    await page.find('[data-testid="template"]').setValue("")
    await until(
      () => page.find('[data-claim="sid"]').exists() && !page.find('[data-claim="tpl"]').exists(),
    )
  })

  it("signs out on the token server and forgets the session, whatever it answers", async () => {
    client.setSession("sess_1")
    const { page, text } = mountPage()
    await until(() => text("status") === "Ready")
    await page.find('[data-testid="sign-out"]').trigger("click")
    await until(() => text("status") === "Signed out")
    expect(server.calls).toContain("DELETE http://127.0.0.1:9/v1/client/sessions/sess_1")
    expect(client.session).toBeNull()
    expect(text("session-id")).toBe("no session")
    expect(page.find('[data-testid="claims"]').exists()).toBe(false)
  })
})

import { act, cleanup, fireEvent, render, type RenderResult } from "@testing-library/react"
import { StrictMode } from "react"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { createTokenClient, fromFunction, type TokClient, TokProvider } from "@tok/react"
import {
  type FakeTokenServer,
  fakeTokenServer,
  jwtFor,
  testConfig as config,
} from "@tok/demo-shared/testing"
import { App } from "../src/App.tsx"

/** Waits (up to 2 s) until `probe` returns something, letting React render as it goes. */
const until = async <A,>(probe: () => A | null | undefined | false): Promise<A> => {
  for (let i = 0; i < 200; i++) {
    await act(async () => {
      await new Promise((resolve) => setTimeout(resolve, 10))
    })
    const value = probe()
    if (value !== null && value !== undefined && value !== false) return value
  }
  throw new Error("timed out")
}

describe("the React demo page", () => {
  let client: TokClient
  let server: FakeTokenServer

  beforeEach(() => {
    server = fakeTokenServer()
    vi.stubGlobal("fetch", server.fetch)
    client = createTokenClient({
      source: fromFunction(async (request) => jwtFor(request.sessionId, request.template)),
    })
  })
  afterEach(async () => {
    cleanup()
    await client.dispose()
    vi.unstubAllGlobals()
  })

  const mountPage = () => {
    const page: RenderResult = render(
      <StrictMode>
        <TokProvider client={client}>
          <App config={config} />
        </TokProvider>
      </StrictMode>,
    )
    const find = (selector: string) => page.container.querySelector(selector)
    const text = (id: string) => find(`[data-testid="${id}"]`)?.textContent ?? ""
    return { find, text }
  }

  it("signs the typed user in on the token server, then shows the session token's claims", async () => {
    const { find, text } = mountPage()
    await until(() => text("status") === "Signed out")
    expect(text("jwt")).toBe("—")
    fireEvent.change(find('[data-testid="user-id"]')!, { target: { value: " user_bob " } })
    fireEvent.submit(find("form")!)
    await until(() => text("status") === "Ready")
    expect(server.calls).toContain("POST http://127.0.0.1:9/v1/client/sessions user_id=user_bob")
    expect(client.session).toBe("sess_1")
    expect(text("session-id")).toBe("sess_1")
    expect(find('[data-claim="sid"] td')?.textContent).toBe("sess_1")
    expect(text("countdown")).toMatch(/^(1 min 0[01] s|59 s)$/)
  })

  it("shows the picked template's token, then the session token again", async () => {
    client.setSession("sess_1")
    const { find, text } = mountPage()
    await until(() => find('[data-claim="sid"]'))
    await until(() => text("requests") === "This page: 1 token request")
    fireEvent.change(find('[data-testid="template"]')!, { target: { value: "supabase" } })
    expect(await until(() => find('[data-claim="tpl"] td')?.textContent)).toBe("supabase")
    fireEvent.change(find('[data-testid="template"]')!, { target: { value: "" } })
    await until(() => find('[data-claim="sid"]') && !find('[data-claim="tpl"]'))
  })

  it("signs out on the token server and forgets the session, whatever it answers", async () => {
    client.setSession("sess_1")
    const { find, text } = mountPage()
    await until(() => text("status") === "Ready")
    fireEvent.click(find('[data-testid="sign-out"]')!)
    await until(() => text("status") === "Signed out")
    expect(server.calls).toContain("DELETE http://127.0.0.1:9/v1/client/sessions/sess_1")
    expect(client.session).toBeNull()
    expect(text("session-id")).toBe("no session")
    expect(find('[data-testid="claims"]')).toBeNull()
  })
})

import { flushSync, mount, unmount } from "svelte"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { createTokenClient, fromFunction, type TokClient } from "@tok/svelte"
import {
  type FakeTokenServer,
  fakeTokenServer,
  jwtFor,
  testConfig as config,
} from "@tok/demo-shared/testing"
import App from "../src/App.svelte"

/** Waits (up to 2 s) until `probe` returns something, letting Svelte render as it goes. */
const until = async <A>(probe: () => A | null | undefined | false): Promise<A> => {
  for (let i = 0; i < 200; i++) {
    flushSync()
    const value = probe()
    if (value !== null && value !== undefined && value !== false) return value
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error("timed out")
}

/**
 * Picks an option as a user would. Svelte's `bind:value` reads the select's
 * `:checked` option, which happy-dom matches on inputs only; this select
 * answers it with its selected option.
 */
const pick = (select: HTMLSelectElement, value: string) => {
  if (!Object.hasOwn(select, "querySelector")) {
    const query = select.querySelector.bind(select)
    Object.defineProperty(select, "querySelector", {
      value: (selector: string) =>
        selector === ":checked" ? (select.options[select.selectedIndex] ?? null) : query(selector),
    })
  }
  select.value = value
  select.dispatchEvent(new Event("change"))
}

const find = <E extends HTMLElement = HTMLElement>(selector: string) =>
  document.body.querySelector<E>(selector)
const text = (id: string) => find(`[data-testid="${id}"]`)?.textContent?.trim()

describe("the Svelte demo page", () => {
  let client: TokClient
  let page: ReturnType<typeof mount> | undefined
  let server: FakeTokenServer

  beforeEach(() => {
    server = fakeTokenServer()
    vi.stubGlobal("fetch", server.fetch)
    client = createTokenClient({
      source: fromFunction(async (request) => jwtFor(request.sessionId, request.template)),
    })
  })
  afterEach(async () => {
    if (page !== undefined) await unmount(page)
    page = undefined
    await client.dispose()
    vi.unstubAllGlobals()
    document.body.innerHTML = ""
  })

  const mountPage = () => {
    page = mount(App, { target: document.body, props: { client, config } })
    flushSync()
  }

  it("signs the typed user in on the token server, then shows the session token's claims", async () => {
    mountPage()
    // The page starts from the adapter's initial state (what a server render
    // shows, so hydration matches), then shows the client's: signed out.
    await until(() => text("status") === "Signed out")
    expect(text("jwt")).toBe("—")
    const user = find<HTMLInputElement>('[data-testid="user-id"]')!
    user.value = " user_bob "
    user.dispatchEvent(new Event("input"))
    find<HTMLFormElement>("form")!.requestSubmit()
    await until(() => text("status") === "Ready")
    expect(server.calls).toContain("POST http://127.0.0.1:9/v1/client/sessions user_id=user_bob")
    expect(client.session).toBe("sess_1")
    expect(text("session-id")).toBe("sess_1")
    expect(find('[data-claim="sid"] td')?.textContent).toBe("sess_1")
    expect(text("countdown")).toMatch(/^(1 min 0[01] s|59 s)$/)
  })

  it("shows the picked template's token from a new store, then the session token again", async () => {
    client.setSession("sess_1")
    mountPage()
    await until(() => find('[data-claim="sid"]'))
    await until(() => text("requests") === "This page: 1 token request")
    const picker = find<HTMLSelectElement>('[data-testid="template"]')!
    pick(picker, "supabase")
    expect(await until(() => find('[data-claim="tpl"] td')?.textContent)).toBe("supabase")
    pick(picker, "")
    await until(() => find('[data-claim="sid"]') && !find('[data-claim="tpl"]'))
  })

  it("signs out on the token server and forgets the session, whatever it answers", async () => {
    client.setSession("sess_1")
    mountPage()
    await until(() => text("status") === "Ready")
    find('[data-testid="sign-out"]')!.click()
    await until(() => text("status") === "Signed out")
    expect(server.calls).toContain("DELETE http://127.0.0.1:9/v1/client/sessions/sess_1")
    expect(client.session).toBeNull()
    expect(text("session-id")).toBe("no session")
    expect(find('[data-testid="claims"]')).toBeNull()
  })
})

import { provideZonelessChangeDetection } from "@angular/core"
import { bootstrapApplication, provideClientHydration } from "@angular/platform-browser"
import { afterEach, describe, expect, it, vi } from "vitest"
import { createTokenClient, provideTok } from "@tok/angular"
import { makeFakeSource } from "@tok/core/testing"
import { serverHtml } from "./fixtures/server-html.ts"
import { TokenPage } from "./fixtures/token-page.ts"

afterEach(() => {
  vi.restoreAllMocks()
  document.body.innerHTML = ""
})

describe("hydrating the server's HTML (provideClientHydration)", () => {
  it("keeps the server's nodes without a mismatch, then fetches and shows both tokens", async () => {
    const warn = vi.spyOn(console, "warn")
    const error = vi.spyOn(console, "error")
    const source = makeFakeSource()
    const client = createTokenClient({ source: source.layer, session: "sess_1" })
    await client.getToken() // a token the browser could show at once: not while hydrating
    document.body.innerHTML = serverHtml
    const serverNode = document.getElementById("db")
    const app = await bootstrapApplication(TokenPage, {
      providers: [
        provideZonelessChangeDetection(),
        provideClientHydration(),
        provideTok({ client, authorizedOrigins: [] }),
      ],
    })
    await vi.waitFor(() => {
      expect(document.getElementById("session")!.textContent).toMatch(/^ready:eyJ/)
      expect(document.getElementById("db")!.textContent).toMatch(/^ready:eyJ/)
    })
    expect(document.getElementById("db")).toBe(serverNode) // hydrated, not re-created
    expect(source.requests.map((r) => r.template)).toEqual([undefined, "db"])
    const messages = [...warn.mock.calls, ...error.mock.calls].map((call) => String(call[0]))
    expect(messages).toEqual([])
    app.destroy()
    await client.dispose()
  })
})

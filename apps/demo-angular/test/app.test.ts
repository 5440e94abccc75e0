import { provideHttpClient, withInterceptors } from "@angular/common/http"
import { HttpTestingController, provideHttpClientTesting } from "@angular/common/http/testing"
import { TestBed, type ComponentFixture } from "@angular/core/testing"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import {
  createTokenClient,
  fromFunction,
  provideTok,
  tokInterceptor,
  type TokClient,
} from "@tok/angular"
import { App } from "../src/app.ts"
import { DEMO_CONFIG } from "../src/app.config.ts"
import { fakeTokenServer, jwtFor, testConfig as config } from "@tok/demo-shared/testing"

/** Waits (up to 2 s) until `probe` returns something, rendering as it goes. */
const until = async <A>(fixture: ComponentFixture<App>, probe: () => A | null | undefined) => {
  for (let i = 0; i < 200; i++) {
    await fixture.whenStable()
    const value = probe()
    if (value !== null && value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error("timed out")
}

describe("the Angular demo page", () => {
  let client: TokClient

  beforeEach(() => {
    // The token server the page calls (it polls the counters), faked.
    vi.stubGlobal("fetch", fakeTokenServer().fetch)
    client = createTokenClient({
      source: fromFunction(async (request) => jwtFor(request.sessionId, request.template)),
    })
    TestBed.configureTestingModule({
      providers: [
        { provide: DEMO_CONFIG, useValue: config },
        provideTok({ client, authorizedOrigins: [config.api] }),
        provideHttpClient(withInterceptors([tokInterceptor])),
        provideHttpClientTesting(),
      ],
    })
  })
  afterEach(async () => {
    TestBed.resetTestingModule()
    await client.dispose()
    vi.unstubAllGlobals()
  })

  const mount = () => {
    const fixture = TestBed.createComponent(App)
    const root = fixture.nativeElement as HTMLElement
    const find = (selector: string) => root.querySelector<HTMLElement>(selector)
    const text = (id: string) => find(`[data-testid="${id}"]`)?.textContent?.trim()
    return { fixture, find, text }
  }

  it("goes from signed out to ready, showing the session token's claims", async () => {
    const { fixture, find, text } = mount()
    await fixture.whenStable()
    expect(text("status")).toBe("Signed out")
    expect(text("jwt")).toBe("—")
    client.setSession("sess_1")
    await until(fixture, () => (text("status") === "Ready" ? true : undefined))
    expect(find('[data-claim="sid"] td')?.textContent).toBe("sess_1")
    expect(text("countdown")).toMatch(/^(1 min 0[01] s|59 s)$/)
    expect(
      await until(fixture, () => text("requests")?.match(/This page: 1 token request/)),
    ).toBeTruthy()
  })

  it("shows a template's token from a TokenService of its own, then the session token again", async () => {
    client.setSession("sess_1")
    const { fixture, find } = mount()
    await fixture.whenStable()
    const picker = find('[data-testid="template"]') as HTMLSelectElement
    picker.value = "supabase"
    picker.dispatchEvent(new Event("change"))
    expect(await until(fixture, () => find('[data-claim="tpl"] td')?.textContent)).toBe("supabase")
    picker.value = ""
    picker.dispatchEvent(new Event("change"))
    await until(fixture, () =>
      find('[data-claim="sid"]') && !find('[data-claim="tpl"]') ? true : undefined,
    )
  })

  it("calls the API with the session token, added by tokInterceptor", async () => {
    client.setSession("sess_1")
    const { fixture, find, text } = mount()
    const http = TestBed.inject(HttpTestingController)
    find('[data-testid="call-api"]')!.click()
    const request = await until(fixture, () => http.match(`${config.api}/api/profile`)[0])
    const authorization = request.request.headers.get("Authorization") ?? ""
    expect(authorization).toMatch(/^Bearer /)
    expect(JSON.parse(atob(authorization.split(".")[1]!))).toMatchObject({ sid: "sess_1" })
    request.flush({ user: "user_alice", downstream: { template: "supabase", tokenFrom: "cache" } })
    expect(await until(fixture, () => text("api-status"))).toBe(
      "✓ 200 OK — user_alice's notes. Sent the session token shown above; demo-api read the notes with a supabase token it had cached.",
    )
  })
})

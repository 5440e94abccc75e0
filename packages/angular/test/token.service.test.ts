import { Component, inject, PLATFORM_ID } from "@angular/core"
import { TestBed } from "@angular/core/testing"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import {
  createTokenClient,
  provideTok,
  type TokClient,
  TokenRequestError,
  TokenService,
} from "@tok/angular"
import { makeFakeSource, type FakeSource } from "@tok/core/testing"

let source: FakeSource
let client: TokClient

beforeEach(() => {
  vi.useFakeTimers()
  source = makeFakeSource({ lifetimeSeconds: 60 })
  client = createTokenClient({ source: source.layer, session: null, refreshJitter: 0 })
})

afterEach(async () => {
  TestBed.resetTestingModule()
  await client.dispose()
  vi.useRealTimers()
})

/** Lets fibers and promises run without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0)

/** Lets the zoneless scheduler render on its own: it waits for a timeout or an animation frame. */
const frame = () => vi.advanceTimersByTimeAsync(20)

const configure = (template?: string) =>
  TestBed.configureTestingModule({
    providers: [provideTok({ client, authorizedOrigins: ["https://api.example.com"], template })],
  })

describe("TokenService", () => {
  it("goes from signed-out to ready to refreshed to signed-out, in signals and token$", async () => {
    configure()
    const tok = TestBed.inject(TokenService)
    const seen: Array<string | null> = []
    tok.token$.subscribe((jwt) => seen.push(jwt))
    await settle()
    expect(tok.status()).toBe("signed-out")
    expect(tok.token()).toBe(null)
    expect(source.requests).toHaveLength(0)

    client.setSession("sess_1")
    await settle()
    expect(tok.status()).toBe("ready")
    const first = tok.token()
    expect(first).toMatch(/^ey/)
    expect(tok.expiresAt()).toBe(Date.now() + 60_000)
    expect(tok.error()).toBe(null)

    // Background refresh at expiresAt − 10 s buffer (no jitter).
    await vi.advanceTimersByTimeAsync(50_000)
    expect(source.requests).toHaveLength(2)
    expect(tok.status()).toBe("ready")
    const second = tok.token()
    expect(second).not.toBe(first)

    client.setSession(null)
    await settle()
    expect(tok.status()).toBe("signed-out")
    expect(tok.token()).toBe(null)
    expect(tok.expiresAt()).toBe(null)
    // The current value on subscribe, then each distinct change (loading has no JWT: null again).
    expect(seen).toEqual([null, first, second, null])
  })

  it("unsubscribes and stops background refresh when its injector is destroyed", async () => {
    client.setSession("sess_1")
    configure()
    const tok = TestBed.inject(TokenService)
    let completed = false
    tok.token$.subscribe({ complete: () => (completed = true) })
    await settle()
    expect(source.requests).toHaveLength(1)

    TestBed.resetTestingModule() // destroys the injector
    expect(completed).toBe(true)
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests).toHaveLength(1)
  })

  it("watches the template given to provideTok, and getToken() defaults to it", async () => {
    client.setSession("sess_1")
    configure("firebase")
    const tok = TestBed.inject(TokenService)
    await settle()
    expect(source.requests.map((r) => r.template)).toEqual(["firebase"])
    const token = await tok.getToken()
    expect(token?.template).toBe("firebase")
    expect(token?.jwt).toBe(tok.token())
    expect((await tok.getToken({ template: "other" }))?.template).toBe("other")
  })

  it("refresh() resolves once the new token is in the signals", async () => {
    client.setSession("sess_1")
    configure()
    const tok = TestBed.inject(TokenService)
    await settle()
    const first = tok.token()
    const done = tok.refresh()
    await settle()
    await done
    expect(source.requests).toHaveLength(2)
    expect(tok.token()).not.toBe(first)
  })

  it("shows a permanent failure in error()", async () => {
    client.setSession("sess_1")
    source.enqueue({ fail: { status: 403 } })
    configure()
    const tok = TestBed.inject(TokenService)
    await settle()
    expect(tok.status()).toBe("error")
    expect(tok.error()).toBeInstanceOf(TokenRequestError)
  })

  it("makes no request on the server", async () => {
    client.setSession("sess_1")
    TestBed.configureTestingModule({
      providers: [
        provideTok({ client, authorizedOrigins: [] }),
        { provide: PLATFORM_ID, useValue: "server" },
      ],
    })
    const tok = TestBed.inject(TokenService)
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(tok.status()).toBe("loading")
    expect(await tok.whenReady()).toBe(null)
    await tok.refresh()
    expect(source.requests).toHaveLength(0)
  })

  it("says what is missing without provideTok", () => {
    expect(() => TestBed.inject(TokenService)).toThrow(/provideTok/)
  })

  it("tells a zoneless app to re-render: no detectChanges() anywhere", async () => {
    @Component({
      selector: "tok-probe",
      template: `{{ tok.status() }}:{{ tok.token() ?? "none" }}`,
    })
    class Probe {
      protected readonly tok = inject(TokenService)
    }
    configure()
    const fixture = TestBed.createComponent(Probe)
    await frame()
    expect(fixture.nativeElement.textContent).toBe("signed-out:none")
    client.setSession("sess_1")
    await frame()
    expect(fixture.nativeElement.textContent).toMatch(/^ready:ey/)
    const first = fixture.nativeElement.textContent
    await vi.advanceTimersByTimeAsync(50_000) // a background refresh re-renders too
    await frame()
    expect(source.requests).toHaveLength(2)
    expect(fixture.nativeElement.textContent).toMatch(/^ready:ey/)
    expect(fixture.nativeElement.textContent).not.toBe(first)
  })

  it("whenReady() resolves the JWT once the key has answered, null on the server", async () => {
    client.setSession("sess_1")
    configure()
    const tok = TestBed.inject(TokenService)
    const ready = tok.whenReady()
    await settle()
    expect(await ready).toBe(tok.token())
    expect(source.requests).toHaveLength(1)
  })
})

describe("provideTok", () => {
  it("rejects an authorized origin that is not a URL with an origin", () => {
    expect(() => provideTok({ client, authorizedOrigins: ["api.example.com"] })).toThrow(
      /not a URL/,
    )
    expect(() => provideTok({ client, authorizedOrigins: ["data:text/plain,x"] })).toThrow(
      /not a URL with an origin/,
    )
  })
})

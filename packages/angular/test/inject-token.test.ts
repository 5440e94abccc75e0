import { Component, inject, Injector, PLATFORM_ID, signal } from "@angular/core"
import { TestBed } from "@angular/core/testing"
import type { ActivatedRouteSnapshot, RouterStateSnapshot } from "@angular/router"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import {
  createTokenClient,
  injectToken,
  provideTok,
  signedInGuard,
  type TokClient,
  TOK_CONFIG,
} from "@tok/angular"
import { makeFakeSource, type FakeSource } from "@tok/core/testing"

let source: FakeSource
let client: TokClient

beforeEach(() => {
  vi.useFakeTimers()
  source = makeFakeSource({ lifetimeSeconds: 60 })
  client = createTokenClient({ source: source.layer, session: "sess_1", refreshJitter: 0 })
})

afterEach(async () => {
  TestBed.resetTestingModule()
  await client.dispose()
  vi.useRealTimers()
})

/** Lets fibers, promises and the zoneless scheduler run without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0)

const configure = (platform = "browser") =>
  TestBed.configureTestingModule({
    providers: [
      provideTok({ client, authorizedOrigins: [] }),
      { provide: PLATFORM_ID, useValue: platform },
    ],
  })

const template = signal<string | undefined>("a")
const enabled = signal(true)

@Component({
  selector: "tok-two-keys",
  template: `<p>{{ first.status() }}:{{ first.token() ?? "none" }}</p>
    <p>{{ second.status() }}:{{ second.token() ?? "none" }}</p>`,
})
class TwoKeys {
  readonly first = injectToken(() => ({ template: template(), enabled: enabled() }))
  readonly second = injectToken(() => ({ template: "db", organizationId: "org_1" }))
}

const texts = (element: HTMLElement) => [...element.querySelectorAll("p")].map((p) => p.textContent)

describe("injectToken", () => {
  beforeEach(() => {
    template.set("a")
    enabled.set(true)
  })

  it("watches two keys in one component, without a child injector", async () => {
    configure()
    const fixture = TestBed.createComponent(TwoKeys)
    await settle()
    expect(texts(fixture.nativeElement)).toEqual([
      expect.stringMatching(/^ready:ey/),
      expect.stringMatching(/^ready:ey/),
    ])
    expect(source.requests.map((r) => [r.template, r.organizationId])).toEqual([
      ["a", undefined],
      ["db", "org_1"],
    ])
    expect(fixture.componentInstance.first.expiresAt()).toBe(Date.now() + 60_000)
  })

  it("follows its options function to a new key, and only the new key is kept fresh", async () => {
    configure()
    const fixture = TestBed.createComponent(TwoKeys)
    await settle()
    template.set("b")
    await settle()
    expect(source.requests.map((r) => r.template)).toEqual(["a", "db", "b"])
    expect(texts(fixture.nativeElement)[0]).toMatch(/^ready:ey/)
    await vi.advanceTimersByTimeAsync(50_000)
    expect(source.requests.map((r) => r.template).sort()).toEqual(["a", "b", "b", "db", "db"])
  })

  it("enabled: false switches the watcher off", async () => {
    enabled.set(false)
    configure()
    const fixture = TestBed.createComponent(TwoKeys)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(texts(fixture.nativeElement)[0]).toBe("loading:none")
    expect(await fixture.componentInstance.first.whenReady()).toBe(null)
    expect(source.requests.filter((r) => r.template === "a")).toHaveLength(0)
  })

  it("unsubscribes and stops refreshing when its component is destroyed (DestroyRef)", async () => {
    configure()
    const fixture = TestBed.createComponent(TwoKeys)
    await settle()
    fixture.destroy()
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(source.requests).toHaveLength(2)
  })

  it("refresh() fetches past the cache; whenReady() answers the key's JWT", async () => {
    configure()
    const fixture = TestBed.createComponent(TwoKeys)
    const { first } = fixture.componentInstance
    const jwt = await first.whenReady()
    await settle()
    expect(jwt).toBe(first.token())
    await first.refresh()
    expect(source.requests.map((r) => r.template)).toEqual(["a", "db", "a"])
    expect(first.token()).not.toBe(jwt)
  })

  it("makes no request on the server", async () => {
    configure("server")
    const fixture = TestBed.createComponent(TwoKeys)
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(texts(fixture.nativeElement)).toEqual(["loading:none", "loading:none"])
    expect(source.requests).toHaveLength(0)
  })

  it("needs an injection context and provideTok", () => {
    expect(() => injectToken()).toThrow(/injection context/)
    expect(() => TestBed.runInInjectionContext(() => injectToken())).toThrow(/provideTok/)
  })
})

describe("signedInGuard", () => {
  const run = (guard: ReturnType<typeof signedInGuard>) =>
    TestBed.runInInjectionContext(() =>
      guard({} as ActivatedRouteSnapshot, {} as RouterStateSnapshot),
    ) as Promise<unknown>

  it("activates a signed-in route once the token has answered", async () => {
    configure()
    const result = run(signedInGuard())
    await settle()
    expect(await result).toBe(true)
    expect(source.requests).toHaveLength(1)
  })

  it("signed out, returns what signedOut() gives, run in the guard's injection context", async () => {
    client.setSession(null)
    configure()
    const redirect = { redirect: "/sign-in" }
    let config: unknown
    const result = await run(
      signedInGuard(() => {
        config = inject(TOK_CONFIG)
        return redirect as never
      }),
    )
    expect(result).toBe(redirect)
    expect(config).toBe(TestBed.inject(TOK_CONFIG))
    expect(await run(signedInGuard())).toBe(false)
  })

  it("a key that failed still has a session: the route activates", async () => {
    source.enqueue({ fail: { status: 403 } })
    configure()
    const result = run(signedInGuard())
    await settle()
    expect(await result).toBe(true)
  })

  it("activates on the server without a token request", async () => {
    configure("server")
    expect(await run(signedInGuard())).toBe(true)
    expect(source.requests).toHaveLength(0)
    expect(TestBed.inject(Injector)).toBeDefined()
  })
})

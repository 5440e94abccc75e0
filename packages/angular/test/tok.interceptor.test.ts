import { HttpClient, provideHttpClient, withInterceptors } from "@angular/common/http"
import { HttpTestingController, provideHttpClientTesting } from "@angular/common/http/testing"
import { TestBed } from "@angular/core/testing"
import { firstValueFrom } from "rxjs"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import {
  createTokenClient,
  provideTok,
  type TokClient,
  tokInterceptor,
  TokenRequestError,
} from "@tok/angular"
import { makeFakeSource, type FakeSource } from "@tok/core/testing"

let source: FakeSource
let client: TokClient
let http: HttpClient
let backend: HttpTestingController

const setup = (authorizedOrigins: ReadonlyArray<string>, template?: string) => {
  TestBed.configureTestingModule({
    providers: [
      provideTok({ client, authorizedOrigins, template }),
      provideHttpClient(withInterceptors([tokInterceptor])),
      provideHttpClientTesting(),
    ],
  })
  http = TestBed.inject(HttpClient)
  backend = TestBed.inject(HttpTestingController)
}

beforeEach(() => {
  vi.useFakeTimers()
  source = makeFakeSource({ lifetimeSeconds: 60 })
  client = createTokenClient({ source: source.layer, session: "sess_1", refreshJitter: 0 })
})

afterEach(async () => {
  backend.verify()
  TestBed.resetTestingModule()
  await client.dispose()
  vi.useRealTimers()
})

/** Lets fibers and promises run without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0)

/** Sends a GET to `url` and returns the `Authorization` header the backend saw. */
const authorizationFor = async (url: string) => {
  const response = firstValueFrom(http.get(url))
  await settle()
  const request = backend.expectOne(url)
  request.flush({})
  await response
  return request.request.headers.get("Authorization")
}

describe("tokInterceptor", () => {
  it("adds the bearer token for an authorized origin", async () => {
    setup(["https://api.example.com"])
    const header = await authorizationFor("https://api.example.com/v1/me")
    const token = await client.getToken()
    expect(header).toBe(`Bearer ${token!.jwt}`)
  })

  it("adds it for a relative URL whose origin (document.baseURI) is listed", async () => {
    setup(["https://app.example.com/ignored/path"])
    expect(await authorizationFor("/api/me")).toMatch(/^Bearer ey/)
    expect(await authorizationFor("api/me")).toMatch(/^Bearer ey/)
  })

  it("uses the template given to provideTok", async () => {
    setup(["https://api.example.com"], "firebase")
    await authorizationFor("https://api.example.com/x")
    expect(source.requests.map((r) => r.template)).toEqual(["firebase"])
  })

  it.each([
    ["another origin", "https://evil.example.net/v1/me"],
    ["another port", "https://api.example.com:8443/v1/me"],
    ["another scheme", "http://api.example.com/v1/me"],
    ["a look-alike host", "https://api.example.com.evil.net/v1/me"],
    ["a host ending alike", "https://evilapi.example.com/v1/me"],
    ["userinfo that names the host", "https://api.example.com@evil.net/v1/me"],
    ["a relative URL whose origin is not listed", "/api/me"],
    ["a protocol-relative URL to another host", "//evil.example.net/v1/me"],
  ])("omits it for %s", async (_, url) => {
    setup(["https://api.example.com"])
    expect(await authorizationFor(url)).toBe(null)
    expect(source.requests).toHaveLength(0)
  })

  it("waits for a token that is loading", async () => {
    setup(["https://api.example.com"])
    source.enqueue({ delayMs: 1_000 })
    const response = firstValueFrom(http.get("https://api.example.com/x"))
    await vi.advanceTimersByTimeAsync(999)
    backend.expectNone("https://api.example.com/x")
    await vi.advanceTimersByTimeAsync(1)
    const request = backend.expectOne("https://api.example.com/x")
    expect(request.request.headers.get("Authorization")).toMatch(/^Bearer ey/)
    request.flush({})
    await response
  })

  it("sends nothing when the request is cancelled while its token loads", async () => {
    setup(["https://api.example.com"])
    source.enqueue({ delayMs: 1_000 })
    const subscription = http.get("https://api.example.com/x").subscribe()
    await vi.advanceTimersByTimeAsync(500)
    subscription.unsubscribe()
    await vi.advanceTimersByTimeAsync(1_000)
    backend.expectNone("https://api.example.com/x")
    expect(source.answered).toBe(1) // the shared fetch went on and filled the cache
  })

  it("leaves the request untouched when signed out", async () => {
    client.setSession(null)
    setup(["https://api.example.com"])
    expect(await authorizationFor("https://api.example.com/public")).toBe(null)
    expect(source.requests).toHaveLength(0)
  })

  it("fails the request with the TokenError when the source fails permanently", async () => {
    setup(["https://api.example.com"])
    source.enqueue({ fail: { status: 403 } })
    const response = firstValueFrom(http.get("https://api.example.com/x")).catch((e: unknown) => e)
    await settle()
    backend.expectNone("https://api.example.com/x")
    const error = await response
    expect(error).toBeInstanceOf(TokenRequestError)
    expect((error as TokenRequestError).status).toBe(403)
  })
})

import {
  HttpClient,
  HttpContext,
  HttpErrorResponse,
  provideHttpClient,
  withInterceptors,
} from "@angular/common/http"
import { PLATFORM_ID } from "@angular/core"
import { HttpTestingController, provideHttpClientTesting } from "@angular/common/http/testing"
import { TestBed } from "@angular/core/testing"
import { firstValueFrom } from "rxjs"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import {
  createTokenClient,
  provideTok,
  type TokClient,
  type TokConfig,
  tokInterceptor,
  TokenRequestError,
  TOK_REQUEST_KEY,
} from "@tok/angular"
import { makeFakeSource, type FakeSource } from "@tok/core/testing"

let source: FakeSource
let client: TokClient
let http: HttpClient
let backend: HttpTestingController

const setup = (
  authorizedOrigins: TokConfig["authorizedOrigins"],
  template?: string,
  more: Partial<TokConfig> = {},
  platform = "browser",
) => {
  TestBed.configureTestingModule({
    providers: [
      provideTok({ client, authorizedOrigins, template, ...more }),
      { provide: PLATFORM_ID, useValue: platform },
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

  it("fails the request with an HttpErrorResponse (status 0) carrying the TokenError", async () => {
    setup(["https://api.example.com"])
    source.enqueue({ fail: { status: 403 } })
    const response = firstValueFrom(http.get("https://api.example.com/x")).catch((e: unknown) => e)
    await settle()
    backend.expectNone("https://api.example.com/x")
    const error = (await response) as HttpErrorResponse
    expect(error).toBeInstanceOf(HttpErrorResponse)
    expect(error.status).toBe(0)
    expect(error.url).toBe("https://api.example.com/x")
    expect(error.error).toBeInstanceOf(TokenRequestError)
    expect((error.error as TokenRequestError).status).toBe(403)
    expect(error.message).not.toMatch(/eyJ/)
  })

  it("with allowAnonymous, sends the request without a token when tok cannot get one", async () => {
    setup(["https://api.example.com"], undefined, { allowAnonymous: true })
    source.enqueue({ fail: { status: 403 } })
    expect(await authorizationFor("https://api.example.com/x")).toBe(null)
  })

  it("uses each origin's own template and organization", async () => {
    setup([
      "https://api.example.com",
      { origin: "https://db.example.com/", template: "supabase", organizationId: "org_1" },
    ])
    await authorizationFor("https://api.example.com/x")
    await authorizationFor("https://db.example.com/rows")
    expect(source.requests.map((r) => [r.template, r.organizationId])).toEqual([
      [undefined, undefined],
      ["supabase", "org_1"],
    ])
  })

  it("TOK_REQUEST_KEY chooses one request's template, and never sends a token to another origin", async () => {
    setup(["https://api.example.com"])
    const context = new HttpContext().set(TOK_REQUEST_KEY, { template: "hasura" })
    const sent = firstValueFrom(http.get("https://api.example.com/graphql", { context }))
    await settle()
    const request = backend.expectOne("https://api.example.com/graphql")
    expect(request.request.headers.get("Authorization")).toMatch(/^Bearer ey/)
    request.flush({})
    await sent
    expect(source.requests.map((r) => r.template)).toEqual(["hasura"])

    const elsewhere = firstValueFrom(http.get("https://evil.example.net/x", { context }))
    await settle()
    const other = backend.expectOne("https://evil.example.net/x")
    expect(other.request.headers.has("Authorization")).toBe(false)
    other.flush({})
    await elsewhere
    expect(source.requests).toHaveLength(1)
  })

  it("with retryUnauthorized, retries a 401 once with a fresh (skipCache) token", async () => {
    setup(["https://api.example.com"], undefined, { retryUnauthorized: true })
    const response = firstValueFrom(http.get<{ ok: boolean }>("https://api.example.com/x"))
    await settle()
    const first = backend.expectOne("https://api.example.com/x")
    const stale = first.request.headers.get("Authorization")
    first.flush({}, { status: 401, statusText: "Unauthorized" })
    await settle()
    const retry = backend.expectOne("https://api.example.com/x")
    expect(retry.request.headers.get("Authorization")).toMatch(/^Bearer ey/)
    expect(retry.request.headers.get("Authorization")).not.toBe(stale)
    retry.flush({ ok: true })
    expect(await response).toEqual({ ok: true })
    expect(source.requests).toHaveLength(2)
  })

  it("retries a 401 at most once, and not at all without retryUnauthorized", async () => {
    setup(["https://api.example.com"], undefined, { retryUnauthorized: true })
    const response = firstValueFrom(http.get("https://api.example.com/x")).catch((e: unknown) => e)
    await settle()
    backend.expectOne("https://api.example.com/x").flush({}, { status: 401, statusText: "No" })
    await settle()
    backend.expectOne("https://api.example.com/x").flush({}, { status: 401, statusText: "No" })
    await settle()
    backend.expectNone("https://api.example.com/x")
    expect(((await response) as HttpErrorResponse).status).toBe(401)

    TestBed.resetTestingModule()
    setup(["https://api.example.com"])
    const plain = firstValueFrom(http.get("https://api.example.com/y")).catch((e: unknown) => e)
    await settle()
    backend.expectOne("https://api.example.com/y").flush({}, { status: 401, statusText: "No" })
    await settle()
    backend.expectNone("https://api.example.com/y")
    expect(((await plain) as HttpErrorResponse).status).toBe(401)
    expect(source.requests).toHaveLength(2) // the first token and its one skipCache retry; then a cache hit
  })

  it("on the server, sends every request unchanged and asks tok nothing", async () => {
    setup(["https://api.example.com"], undefined, {}, "server")
    expect(await authorizationFor("https://api.example.com/x")).toBe(null)
    expect(source.requests).toHaveLength(0)
  })
})

// @tok/angular in Node against the Angular major installed beside it:
// provideTok + TokenService in an environment injector follow a real session
// (TOK_URL), and tokInterceptor adds the bearer token for an authorized origin.
import "@angular/compiler"
import assert from "node:assert/strict"
import { DOCUMENT } from "@angular/common"
import { HttpRequest, HttpResponse, type HttpEvent } from "@angular/common/http"
import {
  createEnvironmentInjector,
  type EnvironmentInjector,
  Injector,
  PLATFORM_ID,
  runInInjectionContext,
  VERSION,
} from "@angular/core"
import { firstValueFrom, of, type Observable } from "rxjs"
import {
  clerkFrontendApi,
  createTokenClient,
  provideTok,
  tokInterceptor,
  TokenService,
} from "@tok/angular"

const url = process.env.TOK_URL ?? assert.fail("TOK_URL is not set")

const res = await fetch(`${url}/v1/client/sessions`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ user_id: "user_angular" }),
})
const { id } = (await res.json()) as { id: string }
const client = createTokenClient({ source: clerkFrontendApi({ baseUrl: url }), session: id })

const injector = createEnvironmentInjector(
  [
    { provide: PLATFORM_ID, useValue: "browser" },
    // What the interceptor reads of the page: its base URL, for relative URLs.
    { provide: DOCUMENT, useValue: { baseURI: "https://app.example.com/" } },
    provideTok({ client, authorizedOrigins: ["https://api.example.com"] }),
    // `providedIn: "root"`: an app's root injector has it; this bare one is told.
    TokenService,
  ],
  Injector.create({ providers: [] }) as EnvironmentInjector,
)
try {
  const service = injector.get(TokenService)
  for (let i = 0; i < 100 && service.status() !== "ready"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  assert.equal(service.status(), "ready")
  const jwt = service.token()
  assert.match(jwt ?? "", /^eyJ/)

  let authorization: string | null = null
  const next = (request: HttpRequest<unknown>): Observable<HttpEvent<unknown>> => {
    authorization = request.headers.get("Authorization")
    return of(new HttpResponse({ status: 200 }))
  }
  await firstValueFrom(
    runInInjectionContext(injector, () =>
      tokInterceptor(new HttpRequest("GET", "https://api.example.com/v1/me"), next),
    ),
  )
  assert.equal(authorization, `Bearer ${jwt}`)
  await firstValueFrom(
    runInInjectionContext(injector, () =>
      tokInterceptor(new HttpRequest("GET", "https://elsewhere.example.com/"), next),
    ),
  )
  assert.equal(authorization, null, "no token for an origin not authorized")
} finally {
  injector.destroy()
  await client.dispose()
}
console.log(`angular ${VERSION.full}: ok`)

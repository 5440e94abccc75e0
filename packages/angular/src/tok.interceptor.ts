import type { Token } from "@tok/core"
import { isPlatformBrowser } from "@angular/common"
import { DOCUMENT, inject, PLATFORM_ID } from "@angular/core"
import {
  HttpContextToken,
  HttpErrorResponse,
  type HttpInterceptorFn,
  type HttpRequest,
} from "@angular/common/http"
import { catchError, Observable, switchMap, throwError } from "rxjs"
import { injectTokConfig, type ResolvedOrigin } from "./provide-tok.ts"

/** The key a request's token is for: a template and an organization. */
export interface TokRequestKey {
  readonly template?: string | undefined
  readonly organizationId?: string | undefined
}

/**
 * Chooses the token of one request (its template and organization) instead
 * of its origin's. It never decides whether a token is sent: that is the
 * origin alone (`authorizedOrigins`).
 *
 * @example
 * ```ts
 * http.get(url, { context: new HttpContext().set(TOK_REQUEST_KEY, { template: "supabase" }) })
 * ```
 */
export const TOK_REQUEST_KEY = new HttpContextToken<TokRequestKey | null>(() => null)

const withToken = (request: HttpRequest<unknown>, token: Token | null) =>
  token === null ? request : request.clone({ setHeaders: { Authorization: `Bearer ${token.jwt}` } })

/**
 * Adds `Authorization: Bearer <jwt>` to requests whose origin is one of
 * `provideTok`'s `authorizedOrigins`, compared exactly (relative URLs resolve
 * against `document.baseURI`), with that origin's template and organization
 * (or the request's `TOK_REQUEST_KEY`). It waits for a token that is loading
 * and sends the request unchanged when signed out. When tok cannot get a
 * token, it fails the request with an `HttpErrorResponse` (status 0, `error`
 * the `TokenError`), or sends it without a token where `allowAnonymous` is
 * set. With `retryUnauthorized`, a 401 is retried once with a `skipCache`
 * token. On the server it sends every request unchanged: no token request
 * during a server render. Requests to any other origin pass untouched.
 *
 * @example
 * ```ts
 * provideHttpClient(withInterceptors([tokInterceptor]))
 * ```
 */
export const tokInterceptor: HttpInterceptorFn = (request, next) => {
  const config = injectTokConfig()
  // On the server: never a token (and the server's DOM has no `baseURI`).
  if (!isPlatformBrowser(inject(PLATFORM_ID))) return next(request)
  const base = inject(DOCUMENT).baseURI
  const url = URL.canParse(request.url, base) ? new URL(request.url, base) : undefined
  const origin: ResolvedOrigin | undefined =
    url === undefined ? undefined : config.authorizedOrigins.get(url.origin)
  if (origin === undefined) return next(request)
  const { template, organizationId } = request.context.get(TOK_REQUEST_KEY) ?? origin

  /** The token to send; a failure fails the request, or sends it without a token. */
  const token = (skipCache: boolean) =>
    new Observable<Token | null>((subscriber) => {
      // Cancelling the request abandons the wait (the shared fetch goes on).
      const controller = new AbortController()
      config.client
        .getToken({ template, organizationId, skipCache, signal: controller.signal })
        .then(
          (value) => {
            subscriber.next(value)
            subscriber.complete()
          },
          (error: unknown) => {
            if (origin.allowAnonymous) {
              subscriber.next(null)
              subscriber.complete()
            } else {
              subscriber.error(
                new HttpErrorResponse({
                  error,
                  status: 0,
                  statusText: "Token unavailable",
                  url: request.urlWithParams,
                }),
              )
            }
          },
        )
      return () => controller.abort()
    })

  let sentToken = false
  const first = token(false).pipe(
    switchMap((value) => {
      sentToken = value !== null
      return next(withToken(request, value))
    }),
  )
  if (!origin.retryUnauthorized) return first
  return first.pipe(
    catchError((error: unknown) =>
      error instanceof HttpErrorResponse && error.status === 401 && sentToken
        ? token(true).pipe(
            switchMap((value) =>
              value === null ? throwError(() => error) : next(withToken(request, value)),
            ),
          )
        : throwError(() => error),
    ),
  )
}

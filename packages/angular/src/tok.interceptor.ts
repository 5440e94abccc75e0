import type { Token } from "@tok/core"
import { DOCUMENT, inject } from "@angular/core"
import type { HttpInterceptorFn } from "@angular/common/http"
import { Observable, switchMap } from "rxjs"
import { injectTokConfig } from "./provide-tok.ts"

/**
 * Adds `Authorization: Bearer <jwt>` to requests whose origin is one of
 * `provideTok`'s `authorizedOrigins`, compared exactly (relative URLs resolve
 * against `document.baseURI`). It waits for a token that is loading, sends
 * the request unchanged when signed out, and fails it with the `TokenError`
 * on any other failure. Requests to any other origin pass untouched.
 *
 * @example
 * ```ts
 * provideHttpClient(withInterceptors([tokInterceptor]))
 * ```
 */
export const tokInterceptor: HttpInterceptorFn = (request, next) => {
  const config = injectTokConfig()
  const base = inject(DOCUMENT).baseURI
  const url = URL.canParse(request.url, base) ? new URL(request.url, base) : undefined
  if (url === undefined || !config.authorizedOrigins.has(url.origin)) return next(request)
  const token = new Observable<Token.Token | null>((subscriber) => {
    // Cancelling the request abandons the wait (the shared fetch goes on).
    const controller = new AbortController()
    config.client.getToken({ template: config.template, signal: controller.signal }).then(
      (value) => {
        subscriber.next(value)
        subscriber.complete()
      },
      (error: unknown) => subscriber.error(error),
    )
    return () => controller.abort()
  })
  return token.pipe(
    switchMap((value) =>
      next(
        value === null
          ? request
          : request.clone({ setHeaders: { Authorization: `Bearer ${value.jwt}` } }),
      ),
    ),
  )
}

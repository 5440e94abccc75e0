import { TokenView } from "@tok/core"
import type { CanActivateFn, GuardResult } from "@angular/router"
import { isPlatformBrowser } from "@angular/common"
import { inject, Injector, PLATFORM_ID, runInInjectionContext } from "@angular/core"
import { injectTokConfig } from "./provide-tok.ts"

/**
 * A `CanActivateFn` for signed-in routes: it waits for the token of
 * `provideTok`'s key (`whenReady`), lets the route activate when there is a
 * session, and otherwise returns what `signedOut()` returns (run in the
 * guard's injection context; default `false`), e.g. a `UrlTree` to a sign-in
 * page. A key that failed (server down, …) still has a session: the route
 * activates and shows the error. On the server it always activates: no token
 * request during a server render; the browser decides after hydration.
 *
 * @example
 * ```ts
 * { path: "account", component: Account,
 *   canActivate: [signedInGuard(() => inject(Router).parseUrl("/sign-in"))] }
 * ```
 */
export const signedInGuard =
  (signedOut: () => GuardResult | Promise<GuardResult> = () => false): CanActivateFn =>
  async () => {
    if (!isPlatformBrowser(inject(PLATFORM_ID))) return true
    const injector = inject(Injector)
    const { client, template, organizationId } = injectTokConfig()
    const watcher = client.watch({ template, organizationId })
    const jwt = await TokenView.whenReady(watcher).catch(() => client.session)
    return jwt !== null ? true : runInInjectionContext(injector, signedOut)
  }

import { type GetTokenOptions, type TokClient, type Token, TokenView } from "@tok/core"
import { DestroyRef, inject, Injectable, type Signal } from "@angular/core"
import { BehaviorSubject, type Observable } from "rxjs"
import { connectToken, type TokenSignals } from "./inject-token.ts"
import { injectTokConfig } from "./provide-tok.ts"

/**
 * The token of the key `provideTok` names (`template`, `organizationId`), as
 * signals, kept fresh by the core while the service lives. In the browser it
 * subscribes when created and shows the initial state (`loading`) until the
 * first render is done, so hydration matches the server; on the server it
 * makes no request. Unsubscribes when its injector is destroyed. For other
 * keys, use `injectToken(() => options)`.
 *
 * @example
 * ```ts
 * @Component({
 *   selector: "app-profile",
 *   template: `
 *     @if (tok.status() === "ready") { <code>{{ tok.token() }}</code> }
 *     <button (click)="tok.refresh()">Refresh</button>
 *   `,
 * })
 * export class Profile {
 *   protected readonly tok = inject(TokenService)
 * }
 * ```
 */
@Injectable({ providedIn: "root" })
export class TokenService implements TokenSignals {
  readonly #config = injectTokConfig()
  readonly #jwt = new BehaviorSubject<string | null>(null)
  readonly #connected = connectToken(
    this.#config.client,
    { template: this.#config.template, organizationId: this.#config.organizationId },
    TokenView.initialState,
    (state) => {
      const jwt = TokenView.fromState(state).token
      if (jwt !== this.#jwt.value) this.#jwt.next(jwt)
    },
  )

  /** The client given to `provideTok`: `setSession`, `getToken`, `invalidate`, … */
  readonly client: TokClient = this.#config.client
  /** The JWT, in every status where there is one; `null` otherwise. */
  readonly token: Signal<string | null> = this.#connected.signals.token
  /** `"signed-out"`, `"loading"`, `"ready"` or `"error"`. */
  readonly status = this.#connected.signals.status
  /** The `TokenError` when the status is `"error"`, `null` otherwise. */
  readonly error = this.#connected.signals.error
  /** When the token expires, local epoch ms; `null` without a token. */
  readonly expiresAt = this.#connected.signals.expiresAt
  /** The JWT or `null`: the current value on subscribe, then each distinct change. */
  readonly token$: Observable<string | null> = this.#jwt.asObservable()

  constructor() {
    inject(DestroyRef).onDestroy(() => this.#jwt.complete())
  }

  /**
   * A token now (cached, shared or fetched): `template` and `organizationId`
   * default to `provideTok`'s. Resolves `null` when signed out; rejects with a `TokenError`.
   */
  getToken(options?: GetTokenOptions): Promise<Token.Token | null> {
    const { template, organizationId } = this.#config
    return this.#config.client.getToken({ template, organizationId, ...options })
  }

  /** A `skipCache` fetch of the watched key; resolves once its result is in the signals. Never rejects. */
  refresh(): Promise<void> {
    return this.#connected.signals.refresh()
  }

  /** The JWT once the key has answered, `null` when signed out (and on the server); rejects with the `TokenError`. */
  whenReady(): Promise<string | null> {
    return this.#connected.signals.whenReady()
  }
}

import type { GetTokenOptions, TokClient, Token, TokenError, TokenState } from "@tok/core"
import { isPlatformBrowser } from "@angular/common"
import {
  computed,
  DestroyRef,
  inject,
  Injectable,
  PLATFORM_ID,
  type Signal,
  signal,
} from "@angular/core"
import { BehaviorSubject, type Observable } from "rxjs"
import { injectTokConfig } from "./provide-tok.ts"

const tokenOf = (state: TokenState) => (state.status === "signed-out" ? undefined : state.token)

/**
 * The token of the key `provideTok` names (`template`), as signals, kept
 * fresh by the core while the service lives. Subscribes when created (in the
 * browser; on the server it makes no request) and unsubscribes when its
 * injector is destroyed.
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
export class TokenService {
  readonly #config = injectTokConfig()
  readonly #watcher = this.#config.client.watch({ template: this.#config.template })
  readonly #state = signal<TokenState>(this.#watcher.getSnapshot())
  readonly #jwt = new BehaviorSubject<string | null>(tokenOf(this.#state())?.jwt ?? null)

  /** The client given to `provideTok`: `setSession`, `getToken`, `invalidate`, … */
  readonly client: TokClient = this.#config.client
  /** The JWT, in every status where there is one; `null` otherwise. */
  readonly token: Signal<string | null> = computed(() => tokenOf(this.#state())?.jwt ?? null)
  /** `"signed-out"`, `"loading"`, `"ready"` or `"error"`. */
  readonly status: Signal<TokenState["status"]> = computed(() => this.#state().status)
  /** The `TokenError` when the status is `"error"`, `null` otherwise. */
  readonly error: Signal<TokenError | null> = computed(() => {
    const state = this.#state()
    return state.status === "error" ? state.error : null
  })
  /** When the token expires, local epoch ms; `null` without a token. */
  readonly expiresAt: Signal<number | null> = computed(
    () => tokenOf(this.#state())?.expiresAt ?? null,
  )
  /** The JWT or `null`: the current value on subscribe, then each distinct change. */
  readonly token$: Observable<string | null> = this.#jwt.asObservable()

  constructor() {
    const destroyRef = inject(DestroyRef)
    if (isPlatformBrowser(inject(PLATFORM_ID))) {
      const unsubscribe = this.#watcher.subscribe((state) => this.#set(state))
      this.#set(this.#watcher.getSnapshot())
      destroyRef.onDestroy(unsubscribe)
    }
    destroyRef.onDestroy(() => this.#jwt.complete())
  }

  /**
   * A token now (cached, shared or fetched): `template` defaults to the one
   * given to `provideTok`. Resolves `null` when signed out; rejects with a `TokenError`.
   */
  getToken(options?: GetTokenOptions): Promise<Token.Token | null> {
    return this.#config.client.getToken({ template: this.#config.template, ...options })
  }

  /** A `skipCache` fetch of the watched key; resolves once its result is in the signals. Never rejects. */
  async refresh(): Promise<void> {
    await this.#watcher.refresh()
    this.#set(this.#watcher.getSnapshot())
  }

  #set(state: TokenState): void {
    this.#state.set(state)
    const jwt = tokenOf(state)?.jwt ?? null
    if (jwt !== this.#jwt.value) this.#jwt.next(jwt)
  }
}

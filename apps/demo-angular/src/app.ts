import { HttpClient, HttpErrorResponse } from "@angular/common/http"
import { Component, computed, DestroyRef, inject, signal } from "@angular/core"
import { injectToken, isTokenError, TokenService } from "@tok/angular"
import { firstValueFrom } from "rxjs"
import { DEMO_CONFIG } from "./app.config.ts"
import {
  claimRows,
  countdown,
  createDemoPage,
  describeApiAnswer,
  describeCounts,
  describeError,
  shortJwt,
  statusLabel,
  type ApiAnswer,
} from "@tok/demo-shared"

/**
 * The demo page. The token it shows is `injectToken(() => options)`: when the
 * template changes, the new key is watched and the old one let go, no child
 * injector needed. `tokInterceptor` sends the session token to demo-api
 * (`provideTok`'s key, the one `TokenService` watches).
 */
@Component({
  selector: "app-root",
  template: `
    <main class="page">
      <header class="top">
        <h1>tok <span class="framework">demo · Angular</span></h1>
        <nav>
          <a href="../vue/">Vue</a>
          <a href="../svelte/">Svelte</a>
          <a href="../angular/" aria-current="page">Angular</a>
        </nav>
      </header>

      <section class="card">
        <h2>Session</h2>
        <div class="row">
          <span class="pill" data-testid="status" [attr.data-status]="tok.status()">{{
            statusLabel(tok.status())
          }}</span>
          <code class="muted" data-testid="session-id">{{ sessionId() ?? "no session" }}</code>
        </div>
        @if (error(); as message) {
          <p class="error" data-testid="error" role="alert">{{ message }}</p>
        }
        <form class="row" (submit)="onSignIn($event)">
          <input
            #user
            [value]="userId()"
            (input)="page.setUserId(user.value)"
            data-testid="user-id"
            aria-label="User id"
            [disabled]="sessionId() !== null"
          />
          <button type="submit" data-testid="sign-in" [disabled]="busy() || sessionId() !== null">
            Sign in
          </button>
          <button
            type="button"
            data-testid="sign-out"
            [disabled]="busy() || sessionId() === null"
            (click)="page.signOut()"
          >
            Sign out
          </button>
        </form>
        @if (notice(); as message) {
          <p class="error" data-testid="notice">{{ message }}</p>
        }
      </section>

      <section class="card">
        <h2>Token</h2>
        <div class="row">
          <label>
            Template
            <select #picker data-testid="template" (change)="selectTemplate(picker.value)">
              <option value="" [selected]="template() === ''">session token</option>
              @for (name of config.templates; track name) {
                <option [value]="name" [selected]="template() === name">{{ name }}</option>
              }
            </select>
          </label>
          <button
            type="button"
            data-testid="refresh"
            [disabled]="sessionId() === null || refreshing()"
            (click)="onRefresh()"
          >
            Refresh now
          </button>
        </div>
        <dl class="facts">
          <dt>JWT</dt>
          <dd>
            <code
              data-testid="jwt"
              [attr.data-jwt]="tok.token() ?? ''"
              [title]="tok.token() ?? ''"
              >{{ shortToken() }}</code
            >
          </dd>
          <dt>Expires in</dt>
          <dd data-testid="countdown">{{ expiresIn() }}</dd>
          <dt>Token requests</dt>
          <dd data-testid="requests" [attr.data-session-count]="counts()?.session ?? ''">
            {{ describeCounts(counts()) }}
          </dd>
        </dl>
        @if (claims().length > 0) {
          <table class="claims" data-testid="claims">
            <tbody>
              @for (claim of claims(); track claim.name) {
                <tr [attr.data-claim]="claim.name">
                  <th>{{ claim.name }}</th>
                  <td>{{ claim.value }}</td>
                </tr>
              }
            </tbody>
          </table>
        }
      </section>

      <section class="card">
        <h2>API</h2>
        <div class="row">
          <button type="button" data-testid="call-api" (click)="page.callApi()">Call API</button>
          @if (api(); as answer) {
            <span data-testid="api-status" [attr.data-status]="answer.status">{{
              describeApiAnswer(answer)
            }}</span>
          }
        </div>
        @if (api(); as answer) {
          <pre data-testid="api-result">{{ json(answer.body) }}</pre>
        }
      </section>
    </main>
  `,
})
export class App {
  protected readonly config = inject(DEMO_CONFIG)
  /** The session token's service: the one `tokInterceptor` uses. */
  readonly #session = inject(TokenService)
  readonly #client = this.#session.client
  readonly #http = inject(HttpClient)

  /** Sign-in and -out, the countdown's clock, the counters and demo-api: the shared controller. */
  protected readonly page = createDemoPage({
    config: this.config,
    client: this.#client,
    api: () => this.#callApi(),
  })
  readonly #view = signal(this.page.getSnapshot())

  /** "" is the session token; any other value names a JWT template. */
  protected readonly template = signal("")
  /** The token the page shows: the selected template's. */
  protected readonly tok = injectToken(() => ({
    template: this.template() === "" ? undefined : this.template(),
  }))
  protected readonly sessionId = computed(() => this.#view().sessionId)
  protected readonly userId = computed(() => this.#view().userId)
  protected readonly busy = computed(() => this.#view().busy)
  protected readonly notice = computed(() => this.#view().notice)
  protected readonly refreshing = signal(false)
  protected readonly api = computed(() => this.#view().api)
  protected readonly counts = computed(() => this.#view().counts)

  protected readonly error = computed(() => {
    const error = this.tok.error()
    return error === null ? null : describeError(error)
  })
  protected readonly shortToken = computed(() => {
    const jwt = this.tok.token()
    return jwt === null ? "—" : shortJwt(jwt)
  })
  protected readonly expiresIn = computed(() => countdown(this.tok.expiresAt(), this.#view().now))
  protected readonly claims = computed(() => claimRows(this.tok.token()))

  protected readonly statusLabel = statusLabel
  protected readonly describeCounts = describeCounts
  protected readonly describeApiAnswer = describeApiAnswer
  protected readonly json = (value: unknown) => JSON.stringify(value, null, 2)

  constructor() {
    const stopListening = this.page.subscribe(() => this.#view.set(this.page.getSnapshot()))
    this.page.start()
    inject(DestroyRef).onDestroy(() => {
      stopListening()
      this.page.stop()
    })
  }

  protected selectTemplate(name: string): void {
    this.template.set(name)
  }

  protected onSignIn(event: Event): void {
    event.preventDefault()
    void this.page.signIn()
  }

  protected async onRefresh(): Promise<void> {
    this.refreshing.set(true)
    await this.tok.refresh()
    this.refreshing.set(false)
  }

  /**
   * demo-api over `HttpClient`: `tokInterceptor` adds the session token
   * (demo-api's origin is authorized). When tok cannot get a token, the
   * interceptor fails the request with status 0 and the `TokenError`: that is
   * shown by the controller.
   */
  async #callApi(): Promise<ApiAnswer> {
    try {
      const body = await firstValueFrom(this.#http.get<unknown>(`${this.config.api}/api/profile`))
      return { status: 200, body }
    } catch (failure) {
      if (!(failure instanceof HttpErrorResponse)) throw failure
      if (isTokenError(failure.error)) throw failure.error
      return {
        status: failure.status,
        body:
          failure.status === 0
            ? { error: { code: "unreachable", message: "demo-api could not be reached" } }
            : failure.error,
      }
    }
  }
}

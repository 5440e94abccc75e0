import { HttpClient, HttpErrorResponse } from "@angular/common/http"
import { Component, computed, DestroyRef, inject, signal } from "@angular/core"
import { injectToken, isTokenError, TokenService } from "@tok/angular"
import { firstValueFrom } from "rxjs"
import { DEMO_CONFIG } from "./app.config.ts"
import {
  claimRows,
  countdown,
  createDemoPage,
  DEMO_BUFFER_SECONDS,
  describeApiAnswer,
  describeLifetime,
  describeRequests,
  describeStatus,
  lifetimeOf,
  shortJwt,
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
        <nav aria-label="Demo apps">
          <a href="../vue/">Vue</a>
          <a href="../svelte/">Svelte</a>
          <a href="../angular/" aria-current="page">Angular</a>
          <a href="../react/">React</a>
        </nav>
      </header>

      <section class="card" aria-labelledby="h-session">
        <h2 id="h-session">Session</h2>
        <div class="row">
          <span role="status"
            ><span
              class="pill"
              data-testid="status"
              [attr.data-status]="tok.status()"
              [attr.data-tone]="shown().tone"
              >{{ shown().label }}</span
            ></span
          >
          <code class="muted" data-testid="session-id">{{ sessionId() ?? "no session" }}</code>
        </div>
        @if (shown().detail; as detail) {
          <p class="status-detail" data-testid="status-detail" [attr.data-tone]="shown().tone">
            {{ detail }}
          </p>
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
          <p class="error" data-testid="notice" role="alert">{{ message }}</p>
        }
      </section>

      <section class="card" aria-labelledby="h-api">
        <h2 id="h-api">API</h2>
        <div class="row">
          <button
            type="button"
            data-testid="call-api"
            [attr.aria-busy]="view().apiPending"
            (click)="page.callApi()"
          >
            {{ view().apiPending ? "Calling…" : "Call API" }}
          </button>
          <span aria-live="polite">
            @if (view().apiPending) {
              <span data-testid="api-pending">Getting a token, then calling demo-api…</span>
            } @else if (api(); as answer) {
              <span
                class="api-status"
                data-testid="api-status"
                [attr.data-status]="answer.noToken ? 'no-token' : answer.status"
                [attr.data-tone]="apiView()?.tone"
                >{{ apiView()?.text }}</span
              >
            }
          </span>
        </div>
        @if (api(); as answer) {
          <pre data-testid="api-result" tabindex="0" aria-label="demo-api's answer">{{
            json(answer.body)
          }}</pre>
        }
      </section>

      <section class="card" aria-labelledby="h-token">
        <h2 id="h-token">Token</h2>
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
            [disabled]="sessionId() === null"
            [attr.aria-busy]="view().refreshing"
            (click)="onRefresh()"
          >
            {{ view().refreshing ? "Refreshing…" : "Refresh now" }}
          </button>
        </div>
        @if (view().refreshNote; as note) {
          <p class="status-detail" data-tone="warn" data-testid="refresh-note">{{ note }}</p>
        }
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
          <dd>
            <span data-testid="countdown">{{ expiresIn() }}</span>
            <span class="lifetime" data-testid="lifetime">{{ lifetime() }}</span>
          </dd>
          <dt>Token requests</dt>
          <dd data-testid="requests" [attr.data-page-count]="view().requests">
            {{ requests() }}
          </dd>
        </dl>
        @if (claims().length > 0) {
          <table class="claims" data-testid="claims">
            <caption class="muted">
              Claims of the token shown
            </caption>
            <tbody>
              @for (claim of claims(); track claim.name) {
                <tr [attr.data-claim]="claim.name">
                  <th scope="row">{{ claim.name }}</th>
                  <td>{{ claim.value }}</td>
                </tr>
              }
            </tbody>
          </table>
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
  protected readonly view = signal(this.page.getSnapshot())

  /** "" is the session token; any other value names a JWT template. */
  protected readonly template = signal("")
  /** The token the page shows: the selected template's. */
  protected readonly tok = injectToken(() => ({
    template: this.template() === "" ? undefined : this.template(),
  }))
  protected readonly sessionId = computed(() => this.view().sessionId)
  protected readonly userId = computed(() => this.view().userId)
  protected readonly busy = computed(() => this.view().busy)
  protected readonly notice = computed(() => this.view().notice)
  protected readonly api = computed(() => this.view().api)
  protected readonly shown = computed(() =>
    describeStatus(
      { status: this.tok.status(), error: this.tok.error(), expiresAt: this.tok.expiresAt() },
      this.view().tracks[this.template()],
      this.view().now,
    ),
  )
  protected readonly apiView = computed(() => {
    const answer = this.api()
    return answer === null ? null : describeApiAnswer(answer, this.template())
  })
  protected readonly requests = computed(() =>
    describeRequests(this.view().requests, this.view().retries, this.view().counts),
  )
  protected readonly lifetime = computed(() =>
    describeLifetime(this.tok.token(), DEMO_BUFFER_SECONDS),
  )
  protected readonly shortToken = computed(() => {
    const jwt = this.tok.token()
    return jwt === null ? "—" : shortJwt(jwt)
  })
  protected readonly expiresIn = computed(() =>
    countdown(this.tok.expiresAt(), this.view().now, lifetimeOf(this.tok.token())),
  )
  protected readonly claims = computed(() => claimRows(this.tok.token()))

  protected readonly json = (value: unknown) => JSON.stringify(value, null, 2)

  constructor() {
    const stopListening = this.page.subscribe(() => this.view.set(this.page.getSnapshot()))
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

  protected onRefresh(): void {
    void this.page.refreshNow(this.tok.refresh, () => this.tok.token())
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

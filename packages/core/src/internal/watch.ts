/**
 * Watchers: the state of one watched key, its subscribers, and the
 * refresher that keeps it fresh while anyone subscribes. A watch sees the
 * client through `WatchHost` only.
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Lifecycle from "../Lifecycle.ts"
import type * as Token from "../Token.ts"
import type { InvalidOptionsError, TokenError } from "../TokenError.ts"
import type { TokenRequest } from "../TokenSource.ts"
import { keyOf } from "./keys.ts"
import type { Checked, ResolvedConfig } from "./options.ts"
import { type FetchOutcome, Refresher } from "./refresher.ts"
import { reportListenerError } from "./session.ts"

/** Options of `watch`: the key to keep fresh. */
export interface WatchOptions {
  readonly template?: string | undefined
  readonly organizationId?: string | undefined
  readonly expirationBuffer?: number | undefined
  readonly sessionId?: string | undefined
}

/** A handle on one watched key: the contract every adapter is built on. */
export interface TokenWatcher {
  /** The current state; checked against the clock on every call. */
  readonly getSnapshot: () => Token.TokenState
  /**
   * Calls `listener` on every state change (never synchronously from
   * `subscribe` itself: read `getSnapshot()` after subscribing). The first
   * subscriber of a key starts a fetch and background refresh; handles of
   * one key and buffer share them; the last unsubscribe stops every timer and
   * fiber of the key.
   */
  readonly subscribe: (listener: (state: Token.TokenState) => void) => () => void
  /** Starts a `skipCache` fetch; resolves once its result is in the state. Never rejects. */
  readonly refresh: () => Promise<void>
}

/** What a watch needs from the client. */
export interface WatchHost {
  readonly config: ResolvedConfig
  readonly clock: Clock.Clock
  readonly lifecycle: Lifecycle.Service
  readonly isDisposed: () => boolean
  /** The current session id. */
  readonly currentSession: () => string | null
  /** How many sessions have ended so far (sign-outs, switches, 401s). */
  readonly sessionEnds: () => number
  readonly peekChecked: (checked: Checked) => Token.Token | InvalidOptionsError | null | undefined
  readonly fetchOrJoin: (
    checked: Checked,
    refresh: boolean,
  ) => Effect.Effect<Token.Token, TokenError>
  readonly fork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>
  /** Makes `watch` the refresher of its key while subscribed. */
  readonly register: (watch: Watch) => void
  readonly unregister: (watch: Watch) => void
}

const SIGNED_OUT: Token.TokenState = { status: "signed-out" }
const LOADING: Token.TokenState = { status: "loading" }

const tokenOf = (state: Token.TokenState): Token.Token | undefined =>
  (state as { readonly token?: Token.Token | undefined }).token

/** One watched key: its state, its subscribers, and its refresher. */
export class Watch {
  readonly id: string
  private readonly listeners = new Set<(state: Token.TokenState) => void>()
  private state: Token.TokenState
  /** The session the state belongs to (`null`: signed out). */
  private stateSession: string | null
  /** `host.sessionEnds()` when the state was last brought up to date. */
  private endsSeen: number
  private stopLifecycle: (() => void) | undefined
  private readonly refresher: Refresher
  stopped = false
  private readonly host: WatchHost
  private readonly checked: Checked

  constructor(host: WatchHost, id: string, checked: Checked) {
    this.host = host
    this.id = id
    this.checked = checked
    this.stateSession = this.sessionId()
    this.endsSeen = host.sessionEnds()
    this.state = this.initialState()
    this.refresher = new Refresher(
      {
        clock: host.clock,
        autoRefresh: host.config.autoRefresh,
        refreshJitter: host.config.refreshJitter,
        isActive: () => host.lifecycle.isActive(),
        fork: host.fork,
      },
      {
        bufferMillis: checked.bufferMillis,
        // Stryker disable next-line ConditionalExpression: without a session the loop's fetch is answered NotSignedIn at once (no request), which shows signed out and parks the same
        hasSession: () => this.sessionId() !== null,
        cached: () => this.cached(),
        validToken: () => this.validToken(),
        show: (token) => {
          if (token.jwt !== tokenOf(this.state)?.jwt) this.setState({ status: "ready", token })
        },
        // Stryker disable next-line ArrowFunction: the loop finds no session only after initialState or a session change's reset showed signed out already
        showSignedOut: () => this.setState(SIGNED_OUT),
        dropExpired: () => {
          const next = this.expiredState()
          if (next !== undefined) this.setState(next)
        },
        fetch: (skipCache) => this.fetch(skipCache),
      },
    )
  }

  private sessionId(): string | null {
    return this.checked.sessionId ?? this.host.currentSession()
  }

  /** The request this watch would make now, if a session is there. */
  request(): TokenRequest | undefined {
    const sessionId = this.sessionId()
    // Stryker disable next-line ConditionalExpression: a request naming no session matches no stored key, and a watch without a session never fetches (the refresher checks first)
    return sessionId === null
      ? undefined
      : { sessionId, template: this.checked.template, organizationId: this.checked.organizationId }
  }

  /** A cached token good for the watch's buffer, if there is one. */
  private cached(): Token.Token | undefined {
    const hit = this.host.peekChecked({ ...this.checked, skipCache: false })
    return hit instanceof Object && "jwt" in hit ? hit : undefined
  }

  private initialState(): Token.TokenState {
    if (this.sessionId() === null) return SIGNED_OUT
    const token = this.cached()
    // Stryker disable next-line ObjectLiteral: getSnapshot and subscribe mirror the cache first, which puts this same ready state back
    return token === undefined ? LOADING : { status: "ready", token }
  }

  getSnapshot(): Token.TokenState {
    const running = this.refresher.running
    if (!running) this.mirrorCache()
    const next = this.expiredState()
    if (next === undefined) return this.state
    // A timer was late (sleeping laptop, throttled tab): never show an expired token.
    this.state = next
    // Stryker disable next-line ConditionalExpression: without a running loop there is no listener to tell and nothing to wake
    if (running) {
      queueMicrotask(() => {
        if (this.state === next) this.notify(next)
      })
      if (this.host.config.autoRefresh) this.refresher.wakeUp()
    }
    return next
  }

  /** The state without its token once that token has expired; `undefined` while it is valid. */
  private expiredState(): Token.TokenState | undefined {
    const state = this.state
    const token = tokenOf(state)
    if (token === undefined || this.host.clock.currentTimeMillisUnsafe() < token.expiresAt) {
      return undefined
    }
    return state.status === "error" ? { status: "error", error: state.error } : LOADING
  }

  /** Without a refresher nobody updates the state: follow the session and the cache. */
  private mirrorCache(): void {
    const session = this.sessionId()
    const ends = this.host.sessionEnds()
    const ended = ends !== this.endsSeen
    this.endsSeen = ends
    if (session !== this.stateSession) {
      this.stateSession = session
      this.state = this.initialState()
      return
    }
    // Stryker disable next-line ConditionalExpression: signed out, the cache answers nothing and the state (signed-out) holds no token, so the rest changes nothing
    if (session === null) return
    const token = this.cached()
    if (token !== undefined) {
      if (token.jwt !== tokenOf(this.state)?.jwt) this.state = { status: "ready", token }
    } else if (ended && tokenOf(this.state) !== undefined) {
      // A session ended since the state was taken and the cache no longer
      // holds a token for this key: its session may be the one that ended
      // (a handle naming it), so never keep showing that token.
      this.state = this.initialState()
    }
  }

  subscribe(listener: (state: Token.TokenState) => void): () => void {
    const wrapped = (state: Token.TokenState) => listener(state)
    // Start before adding the listener: nothing that happens while starting
    // reaches it synchronously (read `getSnapshot()` after subscribing).
    if (this.listeners.size === 0) this.start()
    this.listeners.add(wrapped)
    let done = false
    return () => {
      // Stryker disable next-line ConditionalExpression,BooleanLiteral: a second call deletes nothing; a stopped watch is never subscribed again (handles make a new one), so stopping it twice changes nothing
      if (done) return
      // Stryker disable next-line BooleanLiteral: see above
      done = true
      this.listeners.delete(wrapped)
      if (this.listeners.size === 0) this.stop()
    }
  }

  refresh(): Promise<void> {
    return this.host.isDisposed() ? Promise.resolve() : this.refresher.refresh()
  }

  /** A token was cached under `key`: a running watch of it shows it. */
  onStored(key: string, token: Token.Token): void {
    // Stryker disable next-line ConditionalExpression: only registered watches are told, and a registered watch runs
    if (!this.refresher.running) return
    const request = this.request()
    if (request && key === keyOf(request.sessionId, request.template, request.organizationId)) {
      this.setState({ status: "ready", token })
    }
  }

  /** A 401 ended `sessionId`: a watcher of it shows signed-out and waits for a trigger. */
  onSessionEnded(sessionId: string): void {
    if (this.checked.sessionId !== sessionId) return
    this.setState(SIGNED_OUT)
    this.refresher.park()
  }

  /** The current session changed: a watcher of it starts over for the new one. */
  onSessionChange(): void {
    if (this.checked.sessionId !== undefined) return
    this.refresher.restart(() => {
      this.stateSession = this.sessionId()
      this.setState(this.initialState())
    })
  }

  /** A trigger: `invalidate` (forced), a resume event. */
  poke(force: boolean): void {
    this.refresher.poke(force)
  }

  private start(): void {
    if (this.host.isDisposed()) return
    // Stryker disable next-line BooleanLiteral: `stopped` is read only for a watch that is not registered, and a started one is
    this.stopped = false
    this.host.register(this)
    this.stopLifecycle = this.host.lifecycle.onResume(() => this.refresher.poke(false))
    // Catch up silently with what changed while nobody was subscribed.
    this.mirrorCache()
    this.refresher.start()
  }

  stop(): void {
    this.refresher.stop()
    this.stopLifecycle?.()
    this.stopLifecycle = undefined
    this.stopped = true
    this.host.unregister(this)
  }

  private setState(next: Token.TokenState): void {
    // Stryker disable next-line ConditionalExpression: the same object is caught by the check below too, errors aside — and error states are never set twice
    if (next === this.state) return
    const current = this.state
    if (
      next.status === current.status &&
      next.status !== "error" &&
      // Stryker disable next-line OptionalChaining: two states of one status without a token are the same constant (SIGNED_OUT, LOADING), returned above
      tokenOf(next)?.jwt === tokenOf(current)?.jwt
    ) {
      return
    }
    this.state = next
    this.notify(next)
  }

  private notify(state: Token.TokenState): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(state)
      } catch (error) {
        reportListenerError(error)
      }
    }
  }

  /** A token of the state that is still valid (not necessarily outside the buffer). */
  private validToken(): Token.Token | undefined {
    const token = tokenOf(this.state)
    return token !== undefined && this.host.clock.currentTimeMillisUnsafe() < token.expiresAt
      ? token
      : undefined
  }

  /** One fetch into the state: `skipCache` when forced, else a refresh that joins a request in flight. */
  private fetch(skipCache: boolean): Effect.Effect<FetchOutcome> {
    return Effect.suspend(() => {
      // Stryker disable next-line ConditionalExpression: `request() !== undefined` — the loop fetches only with a session
      if (this.validToken() === undefined && this.request() !== undefined) {
        this.setState(LOADING)
      }
      return Effect.matchCause(this.host.fetchOrJoin({ ...this.checked, skipCache }, !skipCache), {
        onSuccess: (token): FetchOutcome => {
          this.setState({ status: "ready", token })
          // Stryker disable next-line StringLiteral: the refresher treats any outcome other than permanent, interrupted and transient as "ok"
          return "ok"
        },
        onFailure: (cause): FetchOutcome => {
          const failure = Cause.findErrorOption(cause)
          // A defect was logged where it happened; the state stays as it was.
          if (failure._tag === "None") return Cause.hasDies(cause) ? "permanent" : "interrupted"
          const error = failure.value
          // The session has ended (the current one, or the one this key names).
          if (error._tag === "NotSignedInError") {
            // Stryker disable next-line CallExpression,StringLiteral: the session's end reached the watch before its waiters (onSessionEnded parks it, a session change's reset shows signed out), so this repeats it
            this.setState(SIGNED_OUT)
            // Stryker disable next-line StringLiteral: see above — the watch is parked already
            return "permanent"
          }
          this.setState({ status: "error", error, token: this.validToken() })
          return error._tag === "TokenUnavailableError" ? "transient" : "permanent"
        },
      })
    })
  }
}

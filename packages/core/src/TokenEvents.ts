/**
 * What a client does, as plain typed events: for code without Effect (logs,
 * `@tok/devtools`). `createTokenClient(…).events.subscribe(listener)` gets every
 * event of that client; nothing is buffered, and with no listener emitting an
 * event costs one size check.
 *
 * No event holds a JWT or a secret: a token is described by its times only.
 *
 * @example
 * ```ts
 * const stop = tok.events.subscribe((event) => {
 *   if (event.type === "error") console.warn("tok", event.key.template, event.error.tag, event.error.reason)
 * })
 * ```
 * @module
 */

/** Which key an event is about: DESIGN §2.1's (session, template, organization). */
export interface EventKey {
  readonly sessionId: string
  readonly template?: string | undefined
  readonly organizationId?: string | undefined
}

/** A token as events describe it: its local times, never its JWT. */
export interface EventToken {
  /** Local epoch ms the token arrived at. */
  readonly issuedAt: number
  /** Local epoch ms it expires at. */
  readonly expiresAt: number
}

/** A failure as events describe it: the `TokenError`'s tag and its safe fields. */
export interface EventError {
  /** The `_tag` of the `TokenError` (or `"TokenSourceError"` for one failed attempt). */
  readonly tag: string
  /** `TokenUnavailableError`'s reason, or what a failed attempt would be classified as. */
  readonly reason?: string | undefined
  /** The HTTP status, when there was an answer. */
  readonly status?: number | undefined
}

/** Why a request was made. */
export type RequestCause =
  /** a caller's miss (or `skipCache`) */
  | "call"
  /** a watcher's background refresh */
  | "refresh"

/** Where the token of a finished request came from: the network, or a peer (DESIGN §7). */
export type Origin = "network" | "peer"

interface Base {
  /** Local epoch ms, from the client's clock. */
  readonly at: number
  /** The client that saw it: one id per client (one per tab, one per server instance). */
  readonly instance: string
}

/** A request for `key` started (one per flight, however many callers join it). */
export interface RequestStarted extends Base {
  readonly type: "request-started"
  readonly key: EventKey
  /** Increases per client: pairs `request-started` with its `request-ended`. */
  readonly requestId: number
  readonly cause: RequestCause
  readonly skipCache: boolean
}

/** An attempt of a request failed; `retrying` says whether another follows. */
export interface AttemptFailed extends Base {
  readonly type: "attempt-failed"
  readonly key: EventKey
  readonly requestId: number
  readonly attempt: number
  readonly error: EventError
  readonly retrying: boolean
}

/** A request finished: with a token, or with the error every waiter got. */
export interface RequestEnded extends Base {
  readonly type: "request-ended"
  readonly key: EventKey
  readonly requestId: number
  readonly durationMs: number
  readonly attempts: number
  readonly origin: Origin
  /** The token it brought (absent on failure). */
  readonly token?: EventToken | undefined
  /** The error its callers got (absent on success). */
  readonly error?: EventError | undefined
  /** The session ended or the key was invalidated meanwhile: the result was not cached. */
  readonly fenced: boolean
}

/** A call was answered from the cache. */
export interface Hit extends Base {
  readonly type: "hit"
  readonly key: EventKey
}

/** A call found no usable token and waits for a request (joined or started). */
export interface Miss extends Base {
  readonly type: "miss"
  readonly key: EventKey
}

/** A watcher's background refresh began (its request follows, or is joined). */
export interface Refresh extends Base {
  readonly type: "refresh"
  readonly key: EventKey
  /** The buffer the watcher keeps, in ms: the shaded end of a token's bar. */
  readonly bufferMillis: number
}

/** A token for `key` came from a peer (another tab or instance, DESIGN §7) instead of a request. */
export interface Shared extends Base {
  readonly type: "shared"
  readonly key: EventKey
  /** The peer's `instance`. */
  readonly from: string
  readonly token: EventToken
}

/** A request failed for good: what its callers got. */
export interface ErrorEvent extends Base {
  readonly type: "error"
  readonly key: EventKey
  readonly error: EventError
}

/** The current session changed (`null`: signed out). */
export interface SessionChanged extends Base {
  readonly type: "session"
  readonly sessionId: string | null
}

/** Everything a client reports. */
export type TokenEvent =
  | RequestStarted
  | AttemptFailed
  | RequestEnded
  | Hit
  | Miss
  | Refresh
  | Shared
  | ErrorEvent
  | SessionChanged

/** The `type`s of `TokenEvent`. */
export type TokenEventType = TokenEvent["type"]

/** Where events come from: `subscribe` returns the unsubscribe function. */
export interface TokenEvents {
  /**
   * Calls `listener` with every event from now on, synchronously as it
   * happens. A listener that throws is reported (`reportError` or the
   * console) and never stops the client or other listeners.
   */
  readonly subscribe: (listener: (event: TokenEvent) => void) => () => void
}

/**
 * Sharing: the engine's side of `TokenShare` (DESIGN §7). Wraps a request on
 * a local miss (a peer's token, else the key's lock, else fetch and
 * publish), checks everything peers send, and tells peers of session ends
 * and invalidations. With the default share (`none`) nothing here runs.
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Token from "../Token.ts"
import * as TokenShare from "../TokenShare.ts"
import type { TokenRequest, TokenSourceError } from "../TokenSource.ts"
import { keyOf } from "./keys.ts"
import type { ResolvedConfig } from "./options.ts"
import type { Store } from "./store.ts"

/** A token a peer fetched, as a request's result. */
export class PeerToken {
  readonly _tag = "PeerToken"
  readonly shared: TokenShare.SharedToken
  constructor(shared: TokenShare.SharedToken) {
    this.shared = shared
  }
}

/** How long a request waits for its token to be published before it answers its callers. */
const PUBLISH_WAIT_MILLIS = 250

/** How many ended sessions a client remembers, to refuse their late tokens. */
const ENDED_MEMORY = 256

/** What sharing needs from the engine. */
export interface SharingHost {
  readonly config: ResolvedConfig
  readonly clock: Clock.Clock
  readonly store: Store
  readonly fork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>
  /** The current session id. */
  readonly currentSession: () => string | null
  /** A peer's token passed every check: cache it and tell watchers. */
  readonly adopt: (key: string, token: Token.Token) => void
  /** A peer ended `sessionId`: sign it out here, with no request and no echo. */
  readonly ended: (sessionId: string) => void
  /** A peer ran `invalidate(filter)`. */
  readonly invalidated: (filter: TokenShare.ShareMessage & { _tag: "invalidated" }) => void
  /** A peer switched sessions (only with `followSessionSwitch`). */
  readonly switched: (from: string, to: string) => void
}

/** One client's sharing. */
export class Sharing {
  readonly share: TokenShare.Service
  /** False for the default share: the engine never calls it then. */
  readonly active: boolean
  private readonly host: SharingHost
  /** Sessions ended here or by a peer: their tokens from peers are refused (DESIGN §7.3). */
  private readonly endedSessions = new Set<string>()

  constructor(share: TokenShare.Service, host: SharingHost) {
    this.share = share
    this.host = host
    this.active = share.kind !== "none"
  }

  /**
   * A request on a local miss: a usable peer token, else the key's lock
   * (waiting while a peer fetches), then a peer token again, else `fetch`,
   * published before the lock is released. Asking the share takes at most
   * one `requestTimeout`; a share that fails or hangs is skipped (DESIGN §7.2).
   */
  around(
    request: TokenRequest,
    key: string,
    fetch: Effect.Effect<string, TokenSourceError>,
    skipCache: boolean,
    fenced: () => boolean,
  ): Effect.Effect<string | PeerToken, TokenSourceError> {
    const share = this.share
    const timeout = this.host.config.requestTimeout
    // The token this request is to replace: a peer's copy of it is no answer.
    const replaced = this.host.store.held(key)
    const lookup = Effect.map(
      Effect.orElseSucceed(share.get(request), () => undefined),
      (shared) =>
        shared !== undefined && this.fresh(shared, key, replaced)
          ? new PeerToken(shared)
          : undefined,
    )
    const consult: Effect.Effect<PeerToken | undefined, never, Scope.Scope> = Effect.gen(
      function* () {
        const early = yield* lookup
        if (early !== undefined) return early
        const held = yield* Effect.orElseSucceed(share.lock(request, timeout), () => false)
        return held ? yield* lookup : undefined
      },
    ).pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(timeout),
        orElse: () => Effect.succeed(undefined),
      }),
    )
    // A result fenced meanwhile (sign-out, invalidate) is not cached here, nor told to peers.
    const fetched = Effect.tap(fetch, (jwt) =>
      fenced() ? Effect.void : this.publishToken(request, jwt),
    )
    return Effect.scoped(
      skipCache
        ? fetched
        : Effect.flatMap(consult, (peer): Effect.Effect<string | PeerToken, TokenSourceError> =>
            peer !== undefined ? Effect.succeed(peer) : fetched,
          ),
    )
  }

  /** Tells peers of a token just fetched (before the lock is released). */
  private publishToken(request: TokenRequest, jwt: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      const claims = Token.decodeClaims(jwt)
      if (Token.isDecodeFailure(claims) || this.endedSessions.has(request.sessionId)) {
        return Effect.void
      }
      const token: TokenShare.SharedToken = {
        request: {
          sessionId: request.sessionId,
          template: request.template,
          organizationId: request.organizationId,
        },
        jwt,
        expiresInMillis: (claims.exp - claims.iat) * 1000,
      }
      // Peers hear of it before the lock is let go; a slow share does not hold the callers.
      return Effect.timeoutOrElse(
        Fiber.join(this.host.fork(this.bounded(this.share.publish({ _tag: "token", token })))),
        {
          duration: Duration.millis(Math.min(PUBLISH_WAIT_MILLIS, this.host.config.requestTimeout)),
          orElse: () => Effect.void,
        },
      )
    })
  }

  /**
   * A peer token worth using: it decodes, names this key, is not of an
   * ended session, is good for the buffer, and is newer than `replaced`.
   */
  private fresh(input: unknown, key: string, replaced: Token.Token | undefined): boolean {
    const shared = TokenShare.decodeSharedToken(input)
    if (shared === undefined) return false
    const { sessionId, template, organizationId } = shared.request
    if (keyOf(sessionId, template, organizationId) !== key) return false
    if (this.endedSessions.has(sessionId)) return false
    const now = this.host.clock.currentTimeMillisUnsafe()
    if (now + this.host.config.bufferMillis >= now + shared.expiresInMillis) return false
    return (
      replaced === undefined ||
      (replaced.jwt !== shared.jwt && replaced.expiresAt < now + shared.expiresInMillis)
    )
  }

  /** A peer token as the token this client hands out, placed on the local clock. */
  token(peer: PeerToken, request: TokenRequest, now: number): Token.Token | undefined {
    const made = Token.make(peer.shared.jwt, request, now, "peer")
    if (Token.isDecodeFailure(made)) return undefined
    // Placed on the local clock as the peer placed it: it ends when the
    // peer's copy ends, and its lifetime stays exp − iat (refresh planning).
    const expiresAt = now + Math.min(peer.shared.expiresInMillis, made.expiresAt - now)
    return { ...made, issuedAt: expiresAt - (made.expiresAt - made.issuedAt), expiresAt }
  }

  /** What a peer sent: checked, then acted on; anything malformed is ignored (DESIGN §7.4). */
  receive(input: unknown): void {
    const message = TokenShare.decodeMessage(input)
    if (message === undefined) return
    switch (message._tag) {
      case "token": {
        const { request } = message.token
        const key = keyOf(request.sessionId, request.template, request.organizationId)
        // Only tokens of the current session, or of one this client already holds tokens of.
        if (
          request.sessionId !== this.host.currentSession() &&
          this.host.store.held(key) === undefined
        ) {
          return
        }
        if (!this.fresh(message.token, key, this.host.store.held(key))) return
        const token = this.token(
          new PeerToken(message.token),
          request,
          this.host.clock.currentTimeMillisUnsafe(),
        )
        if (token !== undefined) this.host.adopt(key, token)
        return
      }
      case "ended":
        this.remember(message.sessionId)
        return this.host.ended(message.sessionId)
      case "invalidated":
        return this.host.invalidated(message)
      case "switched":
        return this.host.switched(message.from, message.to)
    }
  }

  /** This client ended `sessionId` (sign-out, 401): peers are told, its late tokens refused. */
  endedHere(sessionId: string): void {
    this.remember(sessionId)
    this.tell({ _tag: "ended", sessionId })
  }

  /** This client moved to `sessionId`: a session signed in again is no longer ended. */
  followed(sessionId: string | null): void {
    if (sessionId !== null) this.endedSessions.delete(sessionId)
    this.host.fork(this.share.follow(sessionId))
  }

  /** Tells peers, in the background, bounded by one `requestTimeout`. */
  tell(message: TokenShare.ShareMessage): void {
    this.host.fork(this.bounded(this.share.publish(message)))
  }

  private bounded(effect: Effect.Effect<void, TokenShare.TokenShareError>): Effect.Effect<void> {
    return effect.pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(this.host.config.requestTimeout),
        orElse: () => Effect.void,
      }),
      Effect.orElseSucceed(() => undefined),
    )
  }

  private remember(sessionId: string): void {
    this.endedSessions.delete(sessionId)
    this.endedSessions.add(sessionId)
    if (this.endedSessions.size > ENDED_MEMORY) {
      const oldest = this.endedSessions.values().next().value
      if (oldest !== undefined) this.endedSessions.delete(oldest)
    }
  }
}

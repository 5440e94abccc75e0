/**
 * `TokenShare` — how clients of the same user share tokens: N browser tabs,
 * or N instances of a backend (DESIGN §7). One client fetches a key, its
 * peers use the token it got, and an ended session reaches every peer.
 *
 * The client consults its share only on a local miss, and tells it of every
 * fresh token it fetched; a cache hit never touches it. On a miss it asks,
 * in order and all within one `requestTimeout`:
 * 1. `get` — does a peer hold a token for this key? (checked, then used);
 * 2. `lock` — take the key's fetch lock, waiting while a peer holds it;
 * 3. `get` again once the lock is held (the holder's token arrived meanwhile);
 * 4. else fetch from the source, `publish` the token, release the lock.
 * A share that fails, hangs or is gone never fails a caller: past the
 * timeout, or on any `TokenShareError`, the client fetches on its own.
 *
 * Everything a share hands over is untrusted: the client decodes it like a
 * token from the network (`decodeMessage`), drops a token that is not a
 * well-formed JWT for the key it claims, and drops a token of a session it
 * has ended (DESIGN §7 guarantees 3, 4).
 *
 * Implementations: `none` (the default: shares nothing), `layerBrowser`
 * (BroadcastChannel + Web Locks, see `./internal/browserShare.ts`), and
 * `@tok/redis` for server fleets.
 *
 * @example
 * ```ts
 * import * as Layer from "effect/Layer"
 * import { TokenClient, TokenShare, TokenSource } from "@tok/core"
 *
 * // Tabs of this app share tokens; a Redis share is provided the same way.
 * const live = TokenClient.layer().pipe(
 *   Layer.provide(TokenSource.clerkFrontendApi({ baseUrl })),
 *   Layer.provide(TokenShare.layerBrowser({ name: baseUrl })),
 * )
 * ```
 * @module
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as BrowserShare from "./internal/browserShare.ts"
import type { BrowserShareOptions } from "./internal/browserShare.ts"
import type { InvalidateFilter } from "./internal/keys.ts"
import * as Token from "./Token.ts"
import type { TokenRequest } from "./TokenSource.ts"

/**
 * A token as peers pass it: the JWT, the key it is for, and how long it has
 * left. Lifetime travels as a duration, never as a date, so peers whose
 * clocks disagree (servers) each place it on their own clock (DESIGN §1).
 */
export interface SharedToken {
  /** The key: session, template, organization. */
  readonly request: TokenRequest
  /** The JWT itself. */
  readonly jwt: string
  /** Milliseconds the token has left, by the sender's clock when it sent it. */
  readonly expiresInMillis: number
  /** Which client fetched it (a tab or instance id), for display only; never trusted. */
  readonly from?: string | undefined
}

/** What peers tell each other. */
export type ShareMessage =
  /** A fresh token one peer fetched. */
  | { readonly _tag: "token"; readonly token: SharedToken }
  /** The session ended (a sign-out, or a 401): every peer signs it out, with no request. */
  | { readonly _tag: "ended"; readonly sessionId: string }
  /** `invalidate(filter)` ran on a peer: every peer drops the same tokens. */
  | { readonly _tag: "invalidated"; readonly filter: InvalidateFilter }
  /** A peer switched from one session to another (followed only with `followSessionSwitch`). */
  | { readonly _tag: "switched"; readonly from: string; readonly to: string }

/** A share could not do what it was asked; the client goes on without it. Never seen by a caller. */
export class TokenShareError
  extends /*#__PURE__*/ Data.TaggedError("TokenShareError")<{
    readonly message: string
    readonly cause?: unknown
  }> {}

/** The shape of a share. */
export interface Service {
  /** What it is, for display and telemetry: `"none"`, `"browser"`, `"redis"`, … `"none"` is never consulted. */
  readonly kind: string
  /**
   * A token a peer holds for the key of `request`, if any. Consulted only on
   * a local miss; the client bounds the wait and checks what comes back.
   */
  readonly get: (request: TokenRequest) => Effect.Effect<SharedToken | undefined, TokenShareError>
  /**
   * Takes the fetch lock of the key of `request`, waiting up to `waitMillis`
   * while a peer holds it. `true`: held until the scope closes (a holder
   * that dies releases it by itself: the browser frees a closed tab's
   * locks, Redis expires the lease). `false`: still held by a peer after the
   * wait; the caller fetches on its own.
   */
  readonly lock: (
    request: TokenRequest,
    waitMillis: number,
  ) => Effect.Effect<boolean, TokenShareError, Scope.Scope>
  /** Tells every peer (never this client itself). */
  readonly publish: (message: ShareMessage) => Effect.Effect<void, TokenShareError>
  /**
   * Calls `onMessage` with what peers publish, until the scope closes. The
   * argument is untrusted (`unknown`): the client decodes it with
   * `decodeMessage` before acting on it.
   */
  readonly subscribe: (
    onMessage: (message: unknown) => void,
  ) => Effect.Effect<void, TokenShareError, Scope.Scope>
  /**
   * The client's current session changed (`null`: signed out). A share that
   * listens per session (the browser's channels) listens to this one now;
   * others ignore it.
   */
  readonly follow: (sessionId: string | null) => Effect.Effect<void>
  /** How many clients share now, this one included (1 when alone or unknown). */
  readonly peers: Effect.Effect<number>
}

/** The share that shares nothing: today's single-client behaviour. */
export const none: Service = {
  kind: "none",
  get: () => Effect.succeed(undefined),
  lock: () => Effect.succeed(true),
  publish: () => Effect.void,
  subscribe: () => Effect.void,
  follow: () => Effect.void,
  peers: Effect.succeed(1),
}

/**
 * The share a client uses: `none` unless a layer provides another
 * (`Layer.succeed(TokenShare, service)`, `layerBrowser`, `@tok/redis`).
 */
export const TokenShare = Context.Reference<Service>("@tok/core/TokenShare", {
  defaultValue: () => none,
})

/** Provides `service` as the share of the clients built under it. */
export const layer = (service: Service): Layer.Layer<never> => Layer.succeed(TokenShare, service)

/** What the browser share needs of a `BroadcastChannel`, a Web Locks manager, and its options. */
export type { BrowserShareOptions, ChannelLike, LockManagerLike } from "./internal/browserShare.ts"

/**
 * Tabs of one origin share tokens and sign-outs: `BroadcastChannel` per
 * source (`name`) and session, Web Locks to pick the tab that fetches a key.
 * `createTokenClient` and `TokenClient.layer` turn it on by themselves in a
 * page where both APIs exist (option `share`); provide it to choose the
 * name, or the channel and locks (`@tok/core/testing` has in-memory ones).
 */
export const layerBrowser = (options: BrowserShareOptions): Layer.Layer<never> =>
  Layer.effect(TokenShare, BrowserShare.make(options))

/** Whether this is a page with both `BroadcastChannel` and `navigator.locks` (sharing on by default). */
export const browserAvailable = (): boolean => BrowserShare.browserApis() !== undefined

/**
 * Checks what a peer sent. Anything that is not one of the `ShareMessage`
 * shapes, with ids that are non-empty strings and a token that decodes (3
 * segments, numeric `iat` < `exp`) with a remaining life in (0, exp − iat],
 * is `undefined`. A JWT whose `sid` claim names another session than the
 * one it claims is refused too. Never echoes the JWT in anything it returns
 * but the message itself.
 */
export const decodeMessage = (input: unknown): ShareMessage | undefined => {
  if (typeof input !== "object" || input === null) return undefined
  const message = input as Record<string, unknown>
  switch (message._tag) {
    case "token": {
      const token = decodeSharedToken(message.token)
      return token === undefined ? undefined : { _tag: "token", token }
    }
    case "ended":
      return isId(message.sessionId) ? { _tag: "ended", sessionId: message.sessionId } : undefined
    case "switched":
      return isId(message.from) && isId(message.to)
        ? { _tag: "switched", from: message.from, to: message.to }
        : undefined
    case "invalidated": {
      const filter = message.filter
      if (typeof filter !== "object" || filter === null) return undefined
      const { sessionId, template, organizationId } = filter as Record<string, unknown>
      if (![sessionId, template, organizationId].every(isOptionalString)) return undefined
      return {
        _tag: "invalidated",
        filter: {
          sessionId: sessionId as string | undefined,
          template: template as string | undefined,
          organizationId: organizationId as string | undefined,
        },
      }
    }
    default:
      return undefined
  }
}

/** Checks a `SharedToken` (see `decodeMessage`); `undefined` when it is not one. */
export const decodeSharedToken = (input: unknown): SharedToken | undefined => {
  if (typeof input !== "object" || input === null) return undefined
  const { request, jwt, expiresInMillis, from } = input as Record<string, unknown>
  if (typeof request !== "object" || request === null) return undefined
  const { sessionId, template, organizationId } = request as Record<string, unknown>
  if (!isId(sessionId) || !isOptionalId(template) || !isOptionalId(organizationId)) {
    return undefined
  }
  if (typeof expiresInMillis !== "number" || !(expiresInMillis > 0)) return undefined
  const claims = Token.decodeClaims(jwt)
  if (Token.isDecodeFailure(claims)) return undefined
  if (expiresInMillis > (claims.exp - claims.iat) * 1000) return undefined
  if (typeof claims.sid === "string" && claims.sid !== sessionId) return undefined
  return {
    request: {
      sessionId,
      template: template as string | undefined,
      organizationId: organizationId as string | undefined,
    },
    jwt: jwt as string,
    expiresInMillis,
    from: typeof from === "string" ? from.slice(0, 64) : undefined,
  }
}

const isId = (value: unknown): value is string => typeof value === "string" && value !== ""
const isOptionalId = (value: unknown): boolean => value === undefined || isId(value)
const isOptionalString = (value: unknown): boolean =>
  value === undefined || typeof value === "string"

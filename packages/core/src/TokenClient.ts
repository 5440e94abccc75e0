/**
 * `TokenClient` — the service users call: `getToken`, `setSession`, `watch`,
 * `invalidate`, and the current session with its changes.
 *
 * It answers from the cache while a token is good for `expirationBuffer` more
 * seconds; otherwise it joins the request in flight for the same key (session,
 * template, organization) or starts one, retried by the `RetryPolicy`. Session
 * changes clear the previous session's tokens and fence its requests by
 * generation, so no caller ever receives another session's token.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { TokenClient, TokenSource } from "@tok/core"
 *
 * const program = Effect.gen(function* () {
 *   const tok = yield* TokenClient.TokenClient
 *   yield* tok.setSession("sess_123")
 *   const token = yield* tok.getToken({ template: "supabase" })
 *   return token.jwt
 * })
 *
 * program.pipe(
 *   Effect.provide(TokenClient.layer().pipe(
 *     Layer.provide(TokenSource.clerkFrontendApi({ baseUrl: "https://clerk.example.com" })),
 *   )),
 *   Effect.runPromise,
 * )
 * ```
 * @module
 */
import type * as Scope from "effect/Scope"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import {
  checkFilter,
  type InvalidateFilter,
  registerEngine,
  type TokenWatcher,
  type WatchOptions,
} from "./internal/engine.ts"
import { layerUnrefClock as unrefClockLayer } from "./internal/clock.ts"
import { makeEngine } from "./internal/makeEngine.ts"
import { type CallOptions, checkCall, type Config } from "./internal/options.ts"
import * as Lifecycle from "./Lifecycle.ts"
import type { Token, TokenState } from "./Token.ts"
import * as TokenCache from "./TokenCache.ts"
import { InvalidOptionsError, type TokenError } from "./TokenError.ts"
import type { TokenSource } from "./TokenSource.ts"

/** Client config, `invalidate` filters, and the watch handle with its options. */
export type { Config, InvalidateFilter, TokenWatcher, WatchOptions }

/** Options of `getToken` (DESIGN §1). */
export interface GetTokenOptions extends CallOptions {
  /** A JWT template configured on the server; none = the session token. */
  readonly template?: string | undefined
  /** The organization the token is scoped to; `""` = none. */
  readonly organizationId?: string | undefined
  /** Seconds; a cached token expiring within this is not used. Clamped to [0, 60]. */
  readonly expirationBuffer?: number | undefined
  /** Never answer from the cache or join an earlier request. */
  readonly skipCache?: boolean | undefined
  /** A session other than the current one (servers: one client, many sessions). */
  readonly sessionId?: string | undefined
}

/** The shape of the token client. */
export interface Service {
  /** A token for the current (or named) session: cached, shared, or fetched. */
  readonly getToken: (options?: GetTokenOptions) => Effect.Effect<Token, TokenError>
  /** Signs in (`id`), switches, or signs out (`null`); clears the previous session's tokens. */
  readonly setSession: (sessionId: string | null) => Effect.Effect<void>
  /** The current session id and a stream of its changes (current value first). */
  readonly session: {
    readonly get: Effect.Effect<string | null>
    readonly changes: Stream.Stream<string | null>
  }
  /** A handle that keeps one key fresh while subscribed (see `TokenWatcher`). */
  readonly watch: (options?: WatchOptions) => Effect.Effect<TokenWatcher, InvalidOptionsError>
  /** Drops cached tokens matching `filter` and fences their requests in flight. */
  readonly invalidate: (filter?: InvalidateFilter) => Effect.Effect<void, InvalidOptionsError>
  /**
   * One key's `TokenState` as a stream: the current state first, then each
   * change. Consuming it watches the key (fetch, background refresh); the
   * watch ends with the stream (e.g. a server-sent events response).
   */
  readonly changes: (options?: WatchOptions) => Stream.Stream<TokenState, InvalidOptionsError>
}

/** The token client service. */
export class TokenClient extends Context.Service<TokenClient, Service>()("@tok/core/TokenClient") {}

/**
 * Builds the client from a `TokenSource`, a `TokenCache` and a `Lifecycle`
 * in the context; its fibers and timers live in the given scope.
 */
export const make = (
  config?: Config,
): Effect.Effect<
  Service,
  InvalidOptionsError,
  TokenSource | TokenCache.TokenCache | Lifecycle.Lifecycle | Scope.Scope
> =>
  Effect.map(makeEngine(config), (engine) => {
    const resolved = engine.config
    // A plain `getToken()` is one effect, built once, that reads the session,
    // the cache and the clock each time it runs (DESIGN §2.8).
    // The answer for the last token seen is kept, so a hit allocates nothing.
    let lastHit: Token | undefined
    let lastAnswer: Effect.Effect<Token> = Effect.never
    const now = (): Effect.Effect<Token, TokenError> => {
      const hit = engine.peek(undefined)
      if (!(hit instanceof Object && "jwt" in hit)) return engine.getToken(undefined)
      if (hit !== lastHit) {
        lastHit = hit
        lastAnswer = Exit.succeed(hit)
      }
      return lastAnswer
    }
    // Run by a fiber, it decides when it runs; `yield*` in a generator (the
    // common case, and the hot path) asks it then too, and gets a settled
    // answer that Effect hands back without a step of the fiber.
    const plain: Effect.Effect<Token, TokenError> = Object.create(Effect.suspend(now), {
      [Symbol.iterator]: { value: () => now()[Symbol.iterator]() },
    })
    const service = TokenClient.of({
      getToken: (options) => (options === undefined ? plain : engine.getToken(options)),
      setSession: (sessionId) => Effect.sync(() => engine.setSession(sessionId)),
      session: {
        get: Effect.sync(() => engine.sessionId),
        // The engine owns the session (the hot path reads it synchronously), so
        // the stream listens to it rather than mirroring it in a
        // SubscriptionRef — whose PubSub would add ~2.4 KB gzip to every app.
        changes: Stream.callback<string | null>((queue) =>
          Effect.acquireRelease(
            Effect.sync(() => {
              Queue.offerUnsafe(queue, engine.sessionId)
              return engine.onSession((sessionId) => Queue.offerUnsafe(queue, sessionId))
            }),
            (stop) => Effect.sync(stop),
          ),
        ),
      },
      watch: (options) =>
        Effect.suspend(() => {
          const checked = checkCall(options, resolved.bufferMillis)
          return checked instanceof InvalidOptionsError
            ? Effect.fail(checked)
            : Effect.succeed(engine.watch(checked))
        }),
      changes: (options) =>
        Stream.unwrap(
          Effect.sync(() => {
            const checked = checkCall(options, resolved.bufferMillis)
            if (checked instanceof InvalidOptionsError) return Stream.fail(checked)
            const watcher = engine.watch(checked)
            return Stream.callback<TokenState>((queue) =>
              Effect.acquireRelease(
                Effect.sync(() => {
                  const stop = watcher.subscribe((state) => Queue.offerUnsafe(queue, state))
                  Queue.offerUnsafe(queue, watcher.getSnapshot())
                  return stop
                }),
                (stop) => Effect.sync(stop),
              ),
            )
          }),
        ),
      invalidate: (filter) =>
        Effect.suspend(() => {
          const problem = checkFilter(filter)
          // Anything thrown past the check (a store's bug) stays a defect.
          return problem === undefined
            ? Effect.sync(() => engine.invalidate(filter))
            : Effect.fail(problem)
        }),
    })
    return registerEngine(service, engine)
  })

/**
 * The client as a layer: in-memory LRU cache (`maxEntries`) and the host's
 * lifecycle (browser events, or none). Needs a `TokenSource`. Its scope
 * releases every fiber and timer. It runs on the context's `Clock` when one
 * was chosen (`TestClock`, your own), else on one whose timers are unref'd in
 * Node, so a subscribed watcher never keeps a process alive. Fails with
 * `InvalidOptionsError` for a bad config.
 */
export const layer = (
  config?: Config,
): Layer.Layer<TokenClient, InvalidOptionsError, TokenSource> =>
  Layer.effect(TokenClient, make(config)).pipe(
    Layer.provide(
      Layer.merge(TokenCache.layer({ maxEntries: config?.maxEntries }), Lifecycle.layer),
    ),
  )

/**
 * Like `layer`, with the cache and lifecycle taken from the context — for
 * tests (`Lifecycle.layerTest`) and custom stores.
 */
export const layerWithoutDefaults = (
  config?: Config,
): Layer.Layer<
  TokenClient,
  InvalidOptionsError,
  TokenSource | TokenCache.TokenCache | Lifecycle.Lifecycle
> => Layer.effect(TokenClient, make(config))

/**
 * A `Clock` whose timers are `unref`'d in Node, so a process with a subscribed
 * watcher still exits on its own. Both faces use it unless a clock was
 * chosen; provide it to force it over a clock of your own.
 */
export const layerUnrefClock: Layer.Layer<never> = unrefClockLayer

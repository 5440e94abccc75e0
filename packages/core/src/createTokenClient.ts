/**
 * The Promise face of tok, for code without Effect and for the adapters.
 *
 * A cache hit is answered in plain code, without entering the Effect runtime;
 * a miss runs the same engine as `TokenClient`. Time and timers come from the
 * globals (`Date`, `setTimeout`) at call time, so fake timers drive it, and the
 * timers are `unref`'d in Node, so a script using tok exits on its own.
 *
 * @example
 * ```ts
 * import { createTokenClient, clerkFrontendApi } from "@tok/core"
 *
 * const tok = createTokenClient({
 *   source: clerkFrontendApi({ baseUrl: "https://clerk.example.com" }),
 *   session: "sess_123",
 * })
 * const token = await tok.getToken({ template: "supabase" }) // Token | null
 * const watcher = tok.watch()                              // keeps it fresh while subscribed
 * const stop = watcher.subscribe(() => render(watcher.getSnapshot()))
 * tok.setSession(null)                                      // sign-out: cache cleared
 * await tok.dispose()
 * ```
 * @module
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import { checkFilter, Defect, type Engine } from "./internal/engine.ts"
import { makeEngine } from "./internal/makeEngine.ts"
import { type Checked, checkCall, checkConfig, type Config } from "./internal/options.ts"
import * as Lifecycle from "./Lifecycle.ts"
import type { Token, TokenState } from "./Token.ts"
import type { TokenEvents } from "./TokenEvents.ts"
import * as TokenCache from "./TokenCache.ts"
import type * as TokenClient from "./TokenClient.ts"
import { InvalidOptionsError } from "./TokenError.ts"
import * as TokenSource from "./TokenSource.ts"

/** `getToken` options of the Promise face: DESIGN §1's, plus an `AbortSignal`. */
export interface GetTokenOptions extends TokenClient.GetTokenOptions {
  /** Abandons this caller's wait; the shared request goes on for other waiters. */
  readonly signal?: AbortSignal | undefined
}

/** What `createTokenClient` takes: the `TokenClient.layer` options plus a source. */
export interface TokClientConfig extends Config {
  /** Where tokens come from: `clerkFrontendApi(…)`, `clerkBackendApi(…)` or `fromFunction(…)`. */
  readonly source: Source
  /** The signed-in session at start, if any. */
  readonly session?: string | null | undefined
  /** The host lifecycle (default: browser events where there is a `document`). */
  readonly lifecycle?: Layer.Layer<Lifecycle.Lifecycle> | undefined
  /**
   * What the client is seen through: `TokenMetrics.layer` for metrics, a
   * tracer layer (`OtlpTracer.layer(…)`) for spans, or both merged.
   */
  readonly observability?: Layer.Layer<never> | undefined
}

/** A token source for the Promise face. */
export type Source = Layer.Layer<TokenSource.TokenSource>

/** The client `createTokenClient` returns. */
export interface TokClient {
  /** A token for the current (or named) session; `null` when signed out. Rejects with a `TokenError`. */
  readonly getToken: (options?: GetTokenOptions) => Promise<Token | null>
  /** Signs in, switches (an id) or signs out (`null`); the previous session's tokens are cleared. */
  readonly setSession: (sessionId: string | null) => void
  /** The current session id. */
  readonly session: string | null
  /** Calls `listener` on every session change; returns the unsubscribe function. */
  readonly onSessionChange: (listener: (sessionId: string | null) => void) => () => void
  /** A handle that keeps one key fresh while subscribed. Never throws: bad options show as an error state. */
  readonly watch: (options?: TokenClient.WatchOptions) => TokenClient.TokenWatcher
  /** Drops matching cached tokens and fences their requests in flight. */
  readonly invalidate: (filter?: TokenClient.InvalidateFilter) => void
  /**
   * How many clients share tokens with this one now, itself included: tabs
   * of this app on this session (DESIGN §7); 1 when sharing is off.
   */
  readonly peers: () => Promise<number>
  /** Stops every timer and fiber; pending calls reject with an `AbortError`. */
  readonly dispose: () => Promise<void>
  /** What the client does, as typed events (see `TokenEvents`): for logs and `@tok/devtools`. */
  readonly events: TokenEvents
  /** This client's name in events (the `instance` option, or a random id). */
  readonly instance: string
}

const RESOLVED_NULL: Promise<null> = Promise.resolve(null)

/** A synchronous answer as the Promise face gives it: a token, `null` when signed out, or a rejection. */
const answered = (hit: Token | InvalidOptionsError | null): Promise<Token | null> =>
  hit === null ? RESOLVED_NULL : "jwt" in hit ? Promise.resolve(hit) : Promise.reject(hit)

const abortError = (message: string): Error =>
  typeof DOMException === "function"
    ? new DOMException(message, "AbortError")
    : Object.assign(new Error(message), { name: "AbortError" })

const isAbortSignal = (u: unknown): u is AbortSignal =>
  typeof u === "object" &&
  u !== null &&
  typeof (u as AbortSignal).addEventListener === "function" &&
  typeof (u as AbortSignal).aborted === "boolean"

/** The engine behind a Promise-face client, for `@tok/core/testing`. @internal */
export const engines = new WeakMap<TokClient, Engine>()

/**
 * Makes a Promise-face client. Throws `InvalidOptionsError` for a bad config.
 *
 * @example
 * ```ts
 * const tok = createTokenClient({ source: clerkFrontendApi({ baseUrl }), session: "sess_123" })
 * const token = await tok.getToken({ template: "firebase" }) // Token | null
 * ```
 */
export const createTokenClient = (config: TokClientConfig): TokClient => {
  if (typeof config !== "object" || config === null) {
    throw new InvalidOptionsError({ detail: "createTokenClient takes a config object" })
  }
  const resolved = checkConfig(config)
  if (resolved instanceof InvalidOptionsError) throw resolved
  if (!Layer.isLayer(config.source as unknown)) {
    throw new InvalidOptionsError({
      detail: "source is required: a Layer such as clerkFrontendApi(…)",
    })
  }
  if (config.lifecycle !== undefined && !Layer.isLayer(config.lifecycle as unknown)) {
    throw new InvalidOptionsError({ detail: "lifecycle must be a Layer of Lifecycle" })
  }
  if (config.observability !== undefined && !Layer.isLayer(config.observability as unknown)) {
    throw new InvalidOptionsError({
      detail: "observability must be a Layer (TokenMetrics.layer, …)",
    })
  }
  const initialSession = config.session ?? null
  if (initialSession !== null && typeof initialSession !== "string") {
    throw new InvalidOptionsError({ detail: "session must be a string or null" })
  }
  const scope = Scope.makeUnsafe()
  // The engine without the `TokenClient` service: its streams (`session.changes`,
  // `changes()`) are for the Effect API, and would bring `Stream` into every app.
  // No clock is chosen here, so the client runs on tok's unref'd clock (see makeEngine).
  const engine: Engine = Effect.runSync(
    Effect.gen(function* () {
      const context = yield* buildDeps(config, resolved.maxEntries, scope)
      return yield* makeEngine(config).pipe(Effect.provideContext(context), Scope.provide(scope))
    }),
  )
  engine.setSession(initialSession)

  const defaults = checkCall(undefined, resolved.bufferMillis) as Checked
  let pendingPlain: { promise?: Promise<Token | null> } | undefined
  const getToken = (options?: GetTokenOptions): Promise<Token | null> => {
    if (options === undefined) return getPlainToken()
    const signal: unknown = options?.signal // `null` from untyped callers
    if (signal !== undefined && !isAbortSignal(signal)) {
      return Promise.reject(new InvalidOptionsError({ detail: "signal must be an AbortSignal" }))
    }
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (engine.disposed) return Promise.reject(abortError("The tok client was disposed"))
    const checked = checkCall(options, resolved.bufferMillis)
    if (checked instanceof InvalidOptionsError) return Promise.reject(checked)
    const hit = engine.read(checked)
    if (hit !== undefined) return answered(hit)
    return wait(checked, signal)
  }

  /**
   * A plain `getToken()`: the hot path. A cache hit is answered in plain code
   * before anything else; on a miss, concurrent plain calls ask the same
   * question, so while one waits the others share its answer.
   */
  const getPlainToken = (): Promise<Token | null> => {
    const hit = engine.peek(undefined)
    if (hit !== undefined && hit !== null && "jwt" in hit) return Promise.resolve(hit)
    if (engine.disposed) return Promise.reject(abortError("The tok client was disposed"))
    if (hit !== undefined) return answered(hit)
    if (pendingPlain === undefined) {
      const slot: { promise?: Promise<Token | null> } = {}
      pendingPlain = slot
      // Cleared the moment it settles (synchronously, not a microtask later),
      // so a failure is never handed to a call that comes after it.
      slot.promise = wait(defaults, undefined, () => {
        if (pendingPlain === slot) pendingPlain = undefined
      })
      return slot.promise
    }
    return pendingPlain.promise!
  }

  /** Waits for the key's request (joined or started) without a fiber per caller. */
  const wait = (
    checked: Checked,
    signal: AbortSignal | undefined,
    onSettled?: () => void,
  ): Promise<Token | null> =>
    new Promise<Token | null>((resolve, reject) => {
      let settled = false
      const onAbort = () => {
        abandon()
        reject(signal!.reason)
      }
      const abandon = engine.join(checked, (result) => {
        settled = true
        onSettled?.()
        signal?.removeEventListener("abort", onAbort)
        if (result === "interrupted") reject(abortError("The tok client was disposed"))
        else if ("jwt" in result) resolve(result)
        else if (result instanceof Defect) reject(Cause.squash(result.cause))
        else if (result._tag === "NotSignedInError") resolve(null)
        else reject(result)
      })
      if (!settled) signal?.addEventListener("abort", onAbort, { once: true })
    })

  const client: TokClient = {
    getToken,
    setSession: (sessionId) => {
      pendingPlain = undefined
      engine.setSession(sessionId)
    },
    get session() {
      return engine.sessionId
    },
    onSessionChange: (listener) => engine.onSession(listener),
    watch: (options) => {
      const checked = checkCall(options, resolved.bufferMillis)
      if (checked instanceof InvalidOptionsError) {
        const state: TokenState = { status: "error", error: checked }
        return {
          getSnapshot: () => state,
          subscribe: () => () => undefined,
          refresh: () => Promise.resolve(),
        }
      }
      return engine.watch(checked)
    },
    invalidate: (filter) => {
      const problem = checkFilter(filter)
      if (problem !== undefined) throw problem
      pendingPlain = undefined
      engine.invalidate(filter)
    },
    events: engine.telemetry.events,
    instance: engine.telemetry.instance,
    peers: () =>
      engine.sharing.active && !engine.disposed
        ? Effect.runPromise(engine.sharing.share.peers)
        : Promise.resolve(1),
    dispose: () => {
      // Closed at once (pending calls reject now); the promise waits until every fiber is done.
      const closing = engine.dispose()
      return Effect.runPromise(Effect.andThen(closing, Scope.close(scope, Exit.void)))
    },
  }
  engines.set(client, engine)
  return client
}

/**
 * The engine's services, built into `scope`: the source, the cache and the
 * lifecycle, each given the observability layer's services (what
 * `Layer.provideMerge(Layer.mergeAll(source, cache, lifecycle), observability)`
 * builds, one memo map for all). One after the other, not by
 * `Layer.mergeAll`, whose concurrent build brings Effect's concurrent
 * `forEach` into every app; the build runs synchronously either way.
 */
const buildDeps = (
  config: TokClientConfig,
  maxEntries: number,
  scope: Scope.Closeable,
): Effect.Effect<
  Context.Context<TokenSource.TokenSource | TokenCache.TokenCache | Lifecycle.Lifecycle>
> =>
  Effect.gen(function* () {
    const memoMap = Layer.makeMemoMapUnsafe()
    const observed =
      config.observability === undefined
        ? undefined
        : yield* Layer.buildWithMemoMap(config.observability, memoMap, scope)
    let context: Context.Context<never> = observed ?? Context.empty()
    const layers: ReadonlyArray<Layer.Layer<never>> = [
      config.source,
      TokenCache.layer({ maxEntries }),
      config.lifecycle ?? Lifecycle.layer,
    ]
    for (const layer of layers) {
      const built = Layer.buildWithMemoMap(layer, memoMap, scope)
      context = Context.merge(
        context,
        yield* observed === undefined ? built : Effect.provideContext(built, observed),
      ) as Context.Context<never>
    }
    return context as Context.Context<
      TokenSource.TokenSource | TokenCache.TokenCache | Lifecycle.Lifecycle
    >
  })

/** Clerk's Frontend API as a source (see `TokenSource.clerkFrontendApi`). */
export const clerkFrontendApi: (options: TokenSource.FrontendApiOptions) => Source =
  TokenSource.checkedFrontendApi

/** Clerk's Backend API as a source, for servers (see `TokenSource.clerkBackendApi`). */
export const clerkBackendApi: (options: TokenSource.BackendApiOptions) => Source =
  TokenSource.checkedBackendApi

/**
 * A source from an async function returning the JWT. Throw a
 * `TokenSourceError` to say how it failed; anything else thrown counts as a
 * network failure (retried).
 */
export const fromFunction = (
  fn: (request: TokenSource.TokenRequest, signal: AbortSignal) => Promise<string>,
): Source =>
  TokenSource.fromFunction((request) =>
    Effect.tryPromise({
      // A function that declares no signal gets none made for it: an
      // AbortController per request is a measurable part of a cold call.
      try:
        fn.length < 2
          ? () => call(fn, request, neverAborted())
          : (signal) => call(fn, request, signal),
      catch: (cause) =>
        cause instanceof TokenSource.TokenSourceError
          ? cause
          : new TokenSource.TokenSourceError({ cause, message: "the token function failed" }),
    }),
  )

/** Calls a source function; one that throws or returns a plain string works too. */
const call = (
  fn: (request: TokenSource.TokenRequest, signal: AbortSignal) => Promise<string>,
  request: TokenSource.TokenRequest,
  signal: AbortSignal,
): Promise<string> => {
  try {
    return Promise.resolve(fn(request, signal))
  } catch (error) {
    return Promise.reject(error)
  }
}

let idleSignal: AbortSignal | undefined
const neverAborted = (): AbortSignal => (idleSignal ??= new AbortController().signal)

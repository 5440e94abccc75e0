/**
 * `@tok/core/testing` — what you need to test code that uses tok,
 * deterministically: a scriptable fake token source (answers, delays,
 * failures, a log of requests), unsigned JWTs, and layers that run a
 * `TokenClient` under `TestClock` with a hand-driven `Lifecycle`.
 * tok's own tests use these same fakes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestClock } from "effect/testing"
 * import { TokenClient } from "@tok/core"
 * import { makeFakeSource, testClientLayer } from "@tok/core/testing"
 *
 * const source = makeFakeSource({ lifetimeSeconds: 60 })
 * const program = Effect.gen(function* () {
 *   const tok = yield* TokenClient.TokenClient
 *   yield* tok.setSession("sess_1")
 *   yield* tok.getToken()
 *   yield* TestClock.adjust("55 seconds")
 *   yield* tok.getToken() // within the 10 s buffer: refetched
 *   return source.requests.length // 2
 * }).pipe(Effect.provide(testClientLayer(source)), Effect.provide(TestClock.layer()))
 * ```
 * @module
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { engines, type TokClient } from "./createTokenClient.ts"
import { type Activity, engineOf } from "./internal/engine.ts"
import * as Lifecycle from "./Lifecycle.ts"
import type { Config } from "./internal/options.ts"
import * as TokenCache from "./TokenCache.ts"
import * as TokenClient from "./TokenClient.ts"
import * as TokenShare from "./TokenShare.ts"
import type { BrowserShareOptions, ChannelLike, LockManagerLike } from "./TokenShare.ts"
import type { InvalidOptionsError } from "./TokenError.ts"
import { TokenSource, TokenSourceError, type TokenRequest } from "./TokenSource.ts"

/** What `inspectClient` reports. */
export type { Activity }

/** Makes an unsigned JWT (`alg: none`) with the given payload. */
export const fakeJwt = (payload: Record<string, unknown>): string =>
  `${encode({ alg: "none", typ: "JWT" })}.${encode(payload)}.`

const encode = (value: unknown): string => {
  const bytes = new TextEncoder().encode(JSON.stringify(value))
  let binary = ""
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
}

/** One scripted answer of the fake source. */
export type FakeAnswer =
  /** Mint a token (optionally with this lifetime or extra claims). */
  | {
      readonly mint?: {
        readonly lifetimeSeconds?: number
        readonly claims?: Record<string, unknown>
      }
    }
  /** Answer exactly this JWT string (or anything else, to test bad answers). */
  | { readonly jwt: unknown }
  /** Fail as a source does: a status (none = network failure), `Retry-After`, a code. */
  | {
      readonly fail: {
        readonly status?: number
        readonly retryAfterMs?: number
        readonly code?: string
      }
    }
  /** Never answer (until interrupted: timeouts, aborts). */
  | { readonly hang: true }
  /** Die with this defect, as a source with a bug does (DESIGN §2.9). */
  | { readonly die: unknown }

/** A scripted step: an answer, optionally after a delay on the `Clock`. */
export type FakeStep = FakeAnswer & { readonly delayMs?: number }

/** Options of `makeFakeSource`. */
export interface FakeSourceOptions {
  /** Lifetime of minted tokens (default 60 s). */
  readonly lifetimeSeconds?: number
  /** The server's clock offset from the `Clock`, in seconds (default 0). */
  readonly serverSkewSeconds?: number
  /** Delay before every answer, in ms on the `Clock` (default 0). */
  readonly delayMs?: number
  /**
   * Decides the answer to each request when the queue is empty; `undefined`
   * mints a token. `index` counts requests from 0.
   */
  readonly respond?: (request: TokenRequest, index: number) => FakeStep | undefined
}

/** A scriptable token source with a log of what it was asked. */
export interface FakeSource {
  /** The source as a layer (Effect API). */
  readonly layer: Layer.Layer<TokenSource>
  /** Every request, in order. */
  readonly requests: ReadonlyArray<TokenRequest>
  /** When each request was made: `Clock` time in epoch ms, parallel to `requests`. */
  readonly requestTimes: ReadonlyArray<number>
  /** Requests that are over: answered (minted, JWT or failure) or abandoned — not those still pending. */
  readonly answered: number
  /** Queues answers for the next requests, in order. */
  readonly enqueue: (...steps: ReadonlyArray<FakeStep>) => void
  /** Changes the options for the requests that follow. */
  readonly configure: (options: FakeSourceOptions) => void
  /** Forgets the log and the queue. */
  readonly reset: () => void
}

/** Makes a fake source that mints tokens (`sub`, `sid`, `iat`, `exp`, template and org claims). */
export const makeFakeSource = (initial: FakeSourceOptions = {}): FakeSource => {
  let options = initial
  const queue: Array<FakeStep> = []
  const requests: Array<TokenRequest> = []
  const requestTimes: Array<number> = []
  let answered = 0
  let minted = 0

  const answer = (
    step: FakeStep,
    request: TokenRequest,
  ): Effect.Effect<string, TokenSourceError> => {
    if ("hang" in step) return Effect.never
    if ("die" in step) return Effect.die(step.die)
    if ("fail" in step) {
      return Effect.fail(
        new TokenSourceError({
          ...step.fail,
          message: `fake failure ${step.fail.status ?? "network"}`,
        }),
      )
    }
    if ("jwt" in step) return Effect.succeed(step.jwt as string)
    return Effect.map(Clock.currentTimeMillis, (now) => {
      const iat = Math.floor(now / 1000) + (options.serverSkewSeconds ?? 0)
      const lifetime = step.mint?.lifetimeSeconds ?? options.lifetimeSeconds ?? 60
      return fakeJwt({
        sub: `user_of_${request.sessionId}`,
        sid: request.sessionId,
        iat,
        nbf: iat,
        exp: iat + lifetime,
        n: ++minted,
        ...(request.template === undefined ? {} : { template: request.template }),
        ...(request.organizationId === undefined ? {} : { org_id: request.organizationId }),
        ...step.mint?.claims,
      })
    })
  }

  const fetch = (request: TokenRequest): Effect.Effect<string, TokenSourceError> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const index = requests.length
      requests.push(request)
      requestTimes.push(now)
      const step = queue.shift() ?? options.respond?.(request, index) ?? {}
      const delay = step.delayMs ?? options.delayMs ?? 0
      const run = Effect.suspend(() => answer(step, request)).pipe(
        Effect.ensuring(Effect.sync(() => void answered++)),
      )
      return delay > 0 ? Effect.andThen(Effect.sleep(Duration.millis(delay)), run) : run
    })

  return {
    layer: Layer.succeed(TokenSource, { fetch }),
    get requests() {
      return requests
    },
    get requestTimes() {
      return requestTimes
    },
    get answered() {
      return answered
    },
    enqueue: (...steps) => void queue.push(...steps),
    configure: (next) => {
      options = { ...options, ...next }
    },
    reset: () => {
      queue.length = 0
      requests.length = 0
      requestTimes.length = 0
      answered = 0
    },
  }
}

/**
 * A `TokenClient` on the fake source, an in-memory cache and a test
 * lifecycle (pass one to drive visibility and online events). Provide
 * `TestClock` around it (`@effect/vitest`'s `it.effect` does).
 */
export const testClientLayer = (
  source: FakeSource,
  config?: Config,
  lifecycle: Lifecycle.TestLifecycle = Lifecycle.makeTest(),
): Layer.Layer<TokenClient.TokenClient, InvalidOptionsError> =>
  TokenClient.layerWithoutDefaults(config).pipe(
    Layer.provide(
      Layer.mergeAll(
        source.layer,
        TokenCache.layer({ maxEntries: config?.maxEntries }),
        Lifecycle.layerTest(lifecycle),
      ),
    ),
  )

/**
 * What a client holds right now — fibers, requests in flight, watched keys,
 * cached tokens — for tests that check teardown: after the last unsubscribe
 * (or `dispose()`), `fibers`, `requests` and `watchedKeys` are 0.
 *
 * @example
 * ```ts
 * const stop = tok.watch().subscribe(() => {})
 * stop()
 * expect(inspectClient(tok)).toMatchObject({ fibers: 0, watchedKeys: 0 })
 * ```
 */
export const inspectClient = (client: TokenClient.Service | TokClient): Activity => {
  const engine = engines.get(client as TokClient) ?? engineOf(client)
  if (engine === undefined) throw new TypeError("inspectClient: not a tok client")
  return engine.activity()
}

/** A hand-driven `Lifecycle` for tests: `setVisible`, `setOnline`, `focus`. */
export { makeTest as makeTestLifecycle, type TestLifecycle } from "./Lifecycle.ts"

/**
 * Many clients in one process, sharing as browser tabs do (DESIGN §7): an
 * in-memory `BroadcastChannel` (asynchronous, structured-cloned, never to
 * its sender) and an in-memory Web Locks manager, one per hub (one hub = one
 * origin). Give each Effect client `hub.layer()`, and each Promise-face client
 * `share: { name, channel: hub.channel, locks: hub.locks }`.
 *
 * @example
 * ```ts
 * const hub = makeShareHub()
 * const tab = () => testClientLayer(source).pipe(Layer.provide(hub.layer()))
 * // two clients built from tab(): one fetches, the other gets its token
 * ```
 */
export interface ShareHub {
  /** Opens a channel of this hub (what `new BroadcastChannel(name)` is in a page). */
  readonly channel: (name: string) => ChannelLike
  /** The hub's lock manager (what `navigator.locks` is in a page). */
  readonly locks: LockManagerLike
  /** A browser share over this hub's channel and locks, for one client. */
  readonly layer: (options?: Partial<BrowserShareOptions>) => Layer.Layer<never>
  /** Every message posted on the hub so far, by channel name. */
  readonly posted: ReadonlyArray<{ readonly channel: string; readonly data: unknown }>
  /** Names of the locks held now. */
  readonly held: () => ReadonlyArray<string>
}

/** Makes a `ShareHub`. */
export const makeShareHub = (): ShareHub => {
  const channels = new Map<string, Set<MemoryChannel>>()
  const posted: Array<{ channel: string; data: unknown }> = []
  class MemoryChannel implements ChannelLike {
    private readonly listeners = new Set<(event: { readonly data: unknown }) => void>()
    private closed = false
    readonly name: string
    constructor(name: string) {
      this.name = name
      const peers = channels.get(name) ?? new Set()
      peers.add(this)
      channels.set(name, peers)
    }
    postMessage(message: unknown): void {
      if (this.closed) throw new Error("the channel is closed")
      const data = structuredClone(message)
      posted.push({ channel: this.name, data })
      for (const peer of channels.get(this.name) ?? []) {
        if (peer !== this) queueMicrotask(() => peer.deliver(structuredClone(data)))
      }
    }
    addEventListener(_type: "message", listener: (event: { readonly data: unknown }) => void) {
      this.listeners.add(listener)
    }
    deliver(data: unknown): void {
      if (this.closed) return
      for (const listener of [...this.listeners]) listener({ data })
    }
    close(): void {
      this.closed = true
      channels.get(this.name)?.delete(this)
    }
  }

  const queues = new Map<string, { held: boolean; waiting: Array<() => void> }>()
  const locks: LockManagerLike = {
    request: (name, options, callback) =>
      new Promise((resolve, reject) => {
        const signal = options.signal
        const queue = queues.get(name) ?? { held: false, waiting: [] }
        queues.set(name, queue)
        const release = () => {
          const next = queue.waiting.shift()
          if (next !== undefined) next()
          else queue.held = false
        }
        const grant = () => {
          signal?.removeEventListener("abort", onAbort)
          queue.held = true
          Promise.resolve()
            .then(() => callback({ name, mode: "exclusive" }))
            .then(
              (value) => (release(), resolve(value)),
              (error: unknown) => (release(), reject(error)),
            )
        }
        const onAbort = () => {
          const index = queue.waiting.indexOf(grant)
          if (index >= 0) queue.waiting.splice(index, 1)
          reject(signal?.reason)
        }
        if (signal?.aborted) return reject(signal.reason)
        if (!queue.held) return grant()
        queue.waiting.push(grant)
        signal?.addEventListener("abort", onAbort, { once: true })
      }),
    query: () =>
      Promise.resolve({
        held: [...queues].filter(([, queue]) => queue.held).map(([name]) => ({ name })),
      }),
  }
  return {
    channel: (name) => new MemoryChannel(name),
    locks,
    layer: (options) =>
      TokenShare.layerBrowser({
        name: "tok-test",
        ...options,
        channel: (name) => new MemoryChannel(name),
        locks,
      }),
    posted,
    held: () => [...queues].filter(([, queue]) => queue.held).map(([name]) => name),
  }
}

/**
 * The browser's `TokenShare`: tabs of one origin share tokens over a
 * `BroadcastChannel` per source and session, and Web Locks
 * (`navigator.locks`) pick the tab that fetches a key (DESIGN §7).
 *
 * - Tokens: every fresh token a tab fetched is posted on its session's
 *   channel; each tab keeps the latest token per key it saw, and answers a
 *   peer that asks for one (a tab opened later).
 * - Locks: one per key; a closed tab's locks are released by the browser,
 *   and the client never waits on one longer than one request's timeout.
 * - Presence: each tab holds a lock of its own while it lives, so the tabs
 *   sharing can be counted (`peers`) without heartbeats.
 *
 * The channel and the lock manager are injected, so `@tok/core/testing`
 * runs many clients in one process over in-memory ones.
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as TokenShare from "../TokenShare.ts"
import { decodeMessage } from "../TokenShare.ts"
import type { TokenRequest } from "../TokenSource.ts"
import { keyOf, matcher } from "./keys.ts"

/** What tok needs of a `BroadcastChannel`. */
export interface ChannelLike {
  postMessage(message: unknown): void
  addEventListener(type: "message", listener: (event: { readonly data: unknown }) => void): void
  close(): void
}

/** What tok needs of a Web Locks `LockManager` (`navigator.locks`). */
export interface LockManagerLike {
  request(
    name: string,
    options: { readonly signal?: AbortSignal },
    callback: (lock: unknown) => unknown,
  ): Promise<unknown>
  query?(): Promise<{ readonly held?: ReadonlyArray<{ readonly name?: string | undefined }> }>
}

/** Options of the browser share. */
export interface BrowserShareOptions {
  /** Names what is shared: clients share only with clients of the same name (the source). */
  readonly name: string
  /** Opens a channel (default: `new BroadcastChannel(name)`). */
  readonly channel?: ((name: string) => ChannelLike) | undefined
  /** The lock manager (default: `navigator.locks`). */
  readonly locks?: LockManagerLike | undefined
  /** How long a tab waits for peers to answer "who has this token?" (ms, default 100). */
  readonly askMillis?: number | undefined
}

/** The browser's channel and lock manager, where both exist in a page. */
export const browserApis = ():
  | { readonly channel: (name: string) => ChannelLike; readonly locks: LockManagerLike }
  | undefined => {
  const g = globalThis as {
    document?: unknown
    BroadcastChannel?: new (name: string) => ChannelLike
    navigator?: { locks?: LockManagerLike }
  }
  const locks = g.navigator?.locks
  if (
    typeof g.document !== "object" ||
    typeof g.BroadcastChannel !== "function" ||
    typeof locks?.request !== "function"
  ) {
    return undefined
  }
  const Channel = g.BroadcastChannel
  return { channel: (name) => new Channel(name), locks }
}

/** A message on the wire: a message for the client, or a question for peers. */
type Wire =
  | { readonly kind: "msg"; readonly from: string; readonly message: TokenShare.ShareMessage }
  | { readonly kind: "ask"; readonly from: string; readonly request: TokenRequest }
  | { readonly kind: "miss"; readonly from: string; readonly to: string; readonly key: string }

interface Held {
  readonly token: TokenShare.SharedToken
  /** Local epoch ms. */
  readonly expiresAt: number
}

const randomId = (): string =>
  typeof crypto === "object" && typeof crypto.randomUUID === "function"
    ? crypto.randomUUID()
    : Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2)

/** Makes the browser share; its channels and presence end with the scope. */
export const make = (
  options: BrowserShareOptions,
): Effect.Effect<TokenShare.Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    const apis = browserApis()
    const open = options.channel ?? apis?.channel
    const locks = options.locks ?? apis?.locks
    const clock = yield* Clock.Clock
    const prefix = `tok:${options.name}`
    const askMillis = options.askMillis ?? 100
    const me = randomId()
    const channels = new Map<string, ChannelLike>()
    const listeners = new Set<(message: unknown) => void>()
    const tokens = new Map<string, Held>()
    /** Questions this tab asked, by key: answered by a token, or by every peer saying it has none. */
    const asks = new Map<string, Set<(token: TokenShare.SharedToken | undefined) => void>>()
    let presence: (() => void) | undefined
    let followed: string | null = null

    const now = () => clock.currentTimeMillisUnsafe()
    const keyOfRequest = (r: TokenRequest) => keyOf(r.sessionId, r.template, r.organizationId)

    const heldToken = (key: string): TokenShare.SharedToken | undefined => {
      const held = tokens.get(key)
      if (held === undefined) return undefined
      const left = held.expiresAt - now()
      if (left <= 0) {
        tokens.delete(key)
        return undefined
      }
      return { ...held.token, expiresInMillis: left }
    }

    const post = (sessionId: string, wire: Wire) => {
      try {
        channelOf(sessionId)?.postMessage(wire)
      } catch {
        // A closed or broken channel: the peers fetch on their own.
      }
    }

    /** What a message means for the tokens this tab remembers. */
    const remember = (message: TokenShare.ShareMessage) => {
      switch (message._tag) {
        case "token": {
          const key = keyOfRequest(message.token.request)
          const expiresAt = now() + message.token.expiresInMillis
          const previous = tokens.get(key)
          if (previous === undefined || previous.expiresAt < expiresAt) {
            tokens.set(key, { token: message.token, expiresAt })
          }
          const waiting = asks.get(key)
          if (waiting !== undefined) {
            asks.delete(key)
            for (const answer of waiting) answer(message.token)
          }
          return
        }
        case "ended":
          return drop(matcher({ sessionId: message.sessionId }))
        case "invalidated":
          return drop(matcher(message.filter))
        case "switched":
          return
      }
    }
    const drop = (matches: (request: TokenRequest) => boolean) => {
      for (const [key, held] of [...tokens]) if (matches(held.token.request)) tokens.delete(key)
    }

    const onWire = (data: unknown) => {
      if (typeof data !== "object" || data === null) return
      const wire = data as Record<string, unknown>
      if (wire.from === me) return
      if (wire.kind === "ask") {
        const request = wire.request as TokenRequest | undefined
        if (typeof request?.sessionId !== "string") return
        const key = keyOfRequest(request)
        const token = heldToken(key)
        post(
          request.sessionId,
          token !== undefined
            ? { kind: "msg", from: me, message: { _tag: "token", token } }
            : { kind: "miss", from: me, to: String(wire.from), key },
        )
        return
      }
      if (wire.kind === "miss") {
        if (wire.to !== me || typeof wire.key !== "string") return
        for (const answer of [...(asks.get(wire.key) ?? [])]) answer(undefined)
        return
      }
      if (wire.kind !== "msg") return
      const message = decodeMessage(wire.message)
      if (message === undefined) return
      remember(message)
      for (const listener of [...listeners]) listener(message)
    }

    const channelOf = (sessionId: string): ChannelLike | undefined => {
      const existing = channels.get(sessionId)
      if (existing !== undefined || open === undefined) return existing
      try {
        const channel = open(`${prefix}:${sessionId}`)
        channel.addEventListener("message", (event) => onWire(event.data))
        channels.set(sessionId, channel)
        return channel
      } catch {
        return undefined
      }
    }

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        presence?.()
        for (const channel of channels.values()) channel.close()
        channels.clear()
        listeners.clear()
      }),
    )
    /**
     * Presence: a lock held while this tab is on a session; the browser
     * drops it with the tab, so counting tabs needs no heartbeat.
     */
    const present = (sessionId: string | null) => {
      presence?.()
      presence = undefined
      followed = sessionId
      if (locks === undefined || sessionId === null) return
      let release: (() => void) | undefined
      let released = false
      presence = () => {
        released = true
        release?.()
      }
      locks
        .request(`${prefix}:tab:${sessionId}:${me}`, {}, () =>
          released ? undefined : new Promise<void>((resolve) => (release = resolve)),
        )
        .catch(() => undefined)
    }

    /** Tabs on `sessionId` now, this one included. */
    const count = (sessionId: string | null): Effect.Effect<number> =>
      Effect.promise(async () => {
        try {
          if (sessionId === null) return 1
          const state = await locks?.query?.()
          const tabs = state?.held?.filter((lock) =>
            lock.name?.startsWith(`${prefix}:tab:${sessionId}:`),
          )
          return Math.max(1, tabs?.length ?? 1)
        } catch {
          return 1
        }
      })

    /** Asks the `others` tabs on the session; done at the first token, or once each said it has none. */
    const ask = (request: TokenRequest, others: number) =>
      Effect.callback<TokenShare.SharedToken | undefined>((resume) => {
        const key = keyOfRequest(request)
        let misses = 0
        const answer = (token: TokenShare.SharedToken | undefined) => {
          if (token !== undefined) return resume(Effect.succeed(token))
          if (++misses >= others) resume(Effect.succeed(undefined))
        }
        const waiting = asks.get(key) ?? new Set()
        waiting.add(answer)
        asks.set(key, waiting)
        post(request.sessionId, { kind: "ask", from: me, request })
        return Effect.sync(() => void asks.get(key)?.delete(answer))
      }).pipe(
        Effect.timeoutOrElse({
          duration: Duration.millis(askMillis),
          orElse: () => Effect.succeed(undefined),
        }),
      )

    const service: TokenShare.Service = {
      kind: "browser",
      get: (request) =>
        Effect.suspend(() => {
          channelOf(request.sessionId)
          const held = heldToken(keyOfRequest(request))
          if (held !== undefined) return Effect.succeed(held)
          return Effect.flatMap(count(request.sessionId), (tabs) =>
            tabs > 1 ? ask(request, tabs - 1) : Effect.succeed(undefined),
          )
        }),
      lock: (request, waitMillis) =>
        Effect.gen(function* () {
          if (locks === undefined) return true
          const state: { release?: () => void; abandoned: boolean } = { abandoned: false }
          // Registered first: however the wait ends, the lock is let go with the scope.
          yield* Effect.addFinalizer(() =>
            Effect.sync(() => {
              state.abandoned = true
              state.release?.()
            }),
          )
          return yield* Effect.callback<boolean>((resume) => {
            const controller = new AbortController()
            locks
              .request(
                `${prefix}:lock:${keyOfRequest(request)}`,
                { signal: controller.signal },
                () => {
                  if (state.abandoned) return undefined
                  return new Promise<void>((release) => {
                    state.release = release
                    resume(Effect.succeed(true))
                  })
                },
              )
              .catch(() => resume(Effect.succeed(false)))
            return Effect.sync(() => {
              state.abandoned = true
              controller.abort()
              state.release?.()
            })
          }).pipe(
            Effect.timeoutOrElse({
              duration: Duration.millis(waitMillis),
              orElse: () => Effect.succeed(false),
            }),
          )
        }),
      publish: (message) =>
        Effect.sync(() => {
          remember(message)
          const wire: Wire = { kind: "msg", from: me, message }
          switch (message._tag) {
            case "token":
              return post(message.token.request.sessionId, wire)
            case "ended":
              return post(message.sessionId, wire)
            case "switched":
              return post(message.from, wire)
            case "invalidated": {
              const only = message.filter.sessionId
              for (const sessionId of only === undefined ? [...channels.keys()] : [only]) {
                post(sessionId, wire)
              }
            }
          }
        }),
      // The finalizer first, then the listener: no interruption between the
      // two can leave a listener behind, as `acquireRelease` guarantees, and
      // `acquireRelease` itself stays out of every app (0.1 KB gz).
      subscribe: (onMessage) =>
        Effect.andThen(
          Effect.addFinalizer(() => Effect.sync(() => void listeners.delete(onMessage))),
          Effect.sync(() => void listeners.add(onMessage)),
        ),
      follow: (sessionId) =>
        Effect.sync(() => {
          if (sessionId !== null) channelOf(sessionId)
          if (sessionId !== followed) present(sessionId)
        }),
      peers: Effect.suspend(() => count(followed)),
    }
    return service
  })

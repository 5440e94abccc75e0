/**
 * Sealed events are heard once, while fresh: against a real redis-server and
 * a real dev server, an event seen on the channel and published again (by
 * anyone who can `PUBLISH`) changes nothing. Instances' clocks are Effect
 * `Clock`s set a few seconds apart, so nothing waits for the window to pass.
 */
import { randomBytes } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { TokenClient, TokenShare, TokenSource } from "@tok/core"
import type { DevServer } from "@tok/dev-server"
import { RedisTokenShare } from "@tok/redis"
import { beforeAll, describe, expect, it } from "vitest"
import {
  FUTURE_MILLIS,
  MAX_REMEMBERED,
  makeReplayGuard,
  PAST_MILLIS,
} from "../src/internal/replay.ts"
import { subscribed as subscribedTo, untilEffect as until } from "./support/poll.ts"
import type { RedisServer } from "./support/redisServer.ts"
import { type RawClient, useRedisStack } from "./support/stack.ts"

const stack = useRedisStack()
let redis: RedisServer
let dev: DevServer
let raw: RawClient
let prefixes = 0

beforeAll(() => void ({ redis, dev, raw } = stack))

const key = randomBytes(32).toString("base64")
const nextPrefix = () => `r${(prefixes += 1)}:`

/** Effect's default clock, `offset.millis` ahead (negative: behind); it sleeps as the default does. */
const skewed = (offset: { millis: number }): Clock.Clock => {
  const base = Clock.Clock.defaultValue()
  const now = () => base.currentTimeMillisUnsafe() + offset.millis
  return {
    currentTimeMillisUnsafe: now,
    currentTimeMillis: Effect.sync(now),
    currentTimeNanosUnsafe: () => BigInt(now()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now()) * 1_000_000n),
    monotonicTimeNanosUnsafe: () => base.monotonicTimeNanosUnsafe(),
    monotonicTimeNanos: base.monotonicTimeNanos,
    sleep: (duration) => base.sleep(duration),
  }
}

/** One instance's share layer: its own connection, sealing with `key`. */
const shareLayer = (prefix: string, name: string) =>
  RedisTokenShare.layerNode({
    prefix,
    encryptionKey: key,
    instanceId: name,
    redis: { url: redis.url },
  })

/** One instance's share, on a clock `offset` from the host's; closed with the scope. */
const share = (scope: Scope.Scope, prefix: string, name: string, offset = { millis: 0 }) =>
  Layer.buildWithScope(shareLayer(prefix, name), scope).pipe(
    Effect.map((context) => Context.get(context, TokenShare.TokenShare)),
    Effect.provideService(Clock.Clock, skewed(offset)),
  )

/** One instance's token client on the dev server, sharing through Redis. */
const client = (scope: Scope.Scope, prefix: string, name: string) =>
  Layer.buildWithScope(
    TokenClient.layer().pipe(
      Layer.provide(TokenSource.clerkBackendApi({ baseUrl: dev.url, secretKey: dev.secretKey })),
      Layer.provide(shareLayer(prefix, name)),
    ),
    scope,
  ).pipe(Effect.map((context) => Context.get(context, TokenClient.TokenClient)))

const run = <A, E>(f: (scope: Scope.Scope) => Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      return yield* f(scope).pipe(Effect.ensuring(Scope.close(scope, Exit.void)))
    }),
  )

/** Everything published on `<prefix>events` from now on, as Redis delivered it. */
const tap = (prefix: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const messages: string[] = []
      const listener = raw.duplicate()
      await listener.connect()
      await listener.subscribe(`${prefix}events`, (message) => void messages.push(message))
      return { messages, listener }
    }),
    ({ listener }) => Effect.promise(() => listener.close().catch(() => undefined)),
  ).pipe(Effect.map(({ messages }) => messages))

/** Publishes `messages` again on `<prefix>events`, as anyone who can `PUBLISH` can. */
const replay = (prefix: string, messages: readonly string[]) =>
  Effect.promise(async () => {
    for (const message of messages) await raw.publish(`${prefix}events`, message)
  })

/** Seals `event` as an instance with `key` does (AES-256-GCM, bound to the channel). */
const seal = (prefix: string, event: Record<string, unknown>) =>
  Effect.promise(async () => {
    const aesKey = await crypto.subtle.importKey(
      "raw",
      new Uint8Array(Buffer.from(key, "base64")),
      "AES-GCM",
      false,
      ["encrypt"],
    )
    const iv = crypto.getRandomValues(new Uint8Array(12))
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(`event:${prefix}events`) },
      aesKey,
      new TextEncoder().encode(JSON.stringify(event)),
    )
    const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url")
    return `v1.${b64(iv)}.${b64(new Uint8Array(sealed))}`
  })

const tokenRequests = (sessionId: string) => dev.stats().sessions[sessionId]?.tokenRequests ?? 0

/**
 * Waits until `count` connections listen on `<prefix>events`: a share's
 * `subscribe` may return before its SUBSCRIBE took effect on a busy machine,
 * and an event published before that reaches no one.
 */
const subscribed = (prefix: string, count: number) => subscribedTo(raw, `${prefix}events`, count)

const settle = Effect.sleep("400 millis")

describe("sealed events are heard once, while fresh", () => {
  it("a sealed invalidate replayed on the channel makes no second request", async () => {
    const prefix = nextPrefix()
    const sessionId = dev.signIn(`user_replay_${Math.random()}`).id
    await run((scope) =>
      Effect.gen(function* () {
        const [a, b] = yield* Effect.all([share(scope, prefix, "a"), client(scope, prefix, "b")])
        // b keeps the key fresh: an invalidate makes it fetch again at once.
        const watcher = yield* b.watch({ sessionId })
        const stop = watcher.subscribe(() => undefined)
        yield* Scope.addFinalizer(scope, Effect.sync(stop))
        yield* until(() => watcher.getSnapshot().status === "ready")
        expect(tokenRequests(sessionId)).toBe(1)
        yield* subscribed(prefix, 1)
        const seen = yield* tap(prefix).pipe(Scope.provide(scope))
        // A fresh invalidate works: b fetches again, once.
        yield* a.publish({ _tag: "invalidated", filter: { sessionId } })
        yield* until(() => tokenRequests(sessionId) === 2)
        yield* settle
        expect(tokenRequests(sessionId)).toBe(2)
        expect(watcher.getSnapshot().status).toBe("ready")
        // Everything seen on the channel since, published again three times:
        // the invalidate and b's own token events.
        const captured = [...seen]
        expect(captured.length).toBeGreaterThan(0)
        for (let i = 0; i < 3; i++) yield* replay(prefix, captured)
        // Then a fresh invalidate: b hears it after the replays (Redis
        // delivers in order, b handles one at a time), and it costs one request.
        yield* a.publish({ _tag: "invalidated", filter: { sessionId } })
        yield* until(() => tokenRequests(sessionId) >= 3)
        yield* settle
        expect(tokenRequests(sessionId)).toBe(3)
        expect(watcher.getSnapshot().status).toBe("ready")
      }),
    )
  })

  it("a sealed session end replayed after a re-sign-in leaves the new sign-in alone", async () => {
    const prefix = nextPrefix()
    const sessionId = dev.signIn(`user_replay_${Math.random()}`).id
    await run((scope) =>
      Effect.gen(function* () {
        const [a, b] = yield* Effect.all([share(scope, prefix, "a"), client(scope, prefix, "b")])
        yield* b.setSession(sessionId)
        expect((yield* b.getToken()).source).toBe("network")
        yield* subscribed(prefix, 1)
        const seen = yield* tap(prefix).pipe(Scope.provide(scope))
        // A fresh end works: b is signed out.
        yield* a.publish({ _tag: "ended", sessionId })
        yield* until(() => Effect.runSync(b.session.get) === null)
        expect(yield* b.session.get).toBeNull()
        const captured = [...seen]
        expect(captured.length).toBeGreaterThan(0)
        // Signed in again once the end mark is gone (it lives `endedTtl`).
        yield* Effect.promise(() => raw.del(`${prefix}{${sessionId}}:ended`))
        yield* b.setSession(sessionId)
        expect((yield* b.getToken()).source).toBe("network")
        const requests = tokenRequests(sessionId)
        // The old end, published again: the new sign-in stands, its token is still cached.
        yield* replay(prefix, captured)
        // Given every chance to sign b out (until gives up after 5 s).
        yield* until(() => Effect.runSync(b.session.get) !== sessionId)
        expect(yield* b.session.get).toBe(sessionId)
        expect((yield* b.getToken()).source).toBe("cache")
        expect(tokenRequests(sessionId)).toBe(requests)
      }),
    )
  })

  it("a sealed event older than the window is not heard, nor one from too far ahead; within it, it is", async () => {
    const prefix = nextPrefix()
    const ended = (sessionId: string) => ({ _tag: "ended", sessionId })
    await run((scope) =>
      Effect.gen(function* () {
        const b = yield* share(scope, prefix, "b")
        const heard: unknown[] = []
        yield* b.subscribe((message) => heard.push(message)).pipe(Scope.provide(scope))
        // Instances whose clocks are behind or ahead of b's.
        const behind = yield* share(scope, prefix, "behind", { millis: -(PAST_MILLIS + 2000) })
        const ahead = yield* share(scope, prefix, "ahead", { millis: FUTURE_MILLIS + 2000 })
        const slightlyBehind = yield* share(scope, prefix, "slow", { millis: -20_000 })
        const slightlyAhead = yield* share(scope, prefix, "fast", { millis: 3000 })
        yield* subscribed(prefix, 1)
        const seen = yield* tap(prefix).pipe(Scope.provide(scope))
        yield* behind.publish({ _tag: "ended", sessionId: "sess_stale" })
        yield* ahead.publish({ _tag: "ended", sessionId: "sess_future" })
        yield* slightlyBehind.publish({ _tag: "ended", sessionId: "sess_slow" })
        yield* slightlyAhead.publish({ _tag: "ended", sessionId: "sess_fast" })
        // b handles events one at a time in Redis' order: once the last two
        // are heard, the first two were decided.
        yield* until(() => heard.length >= 2)
        expect(heard).toEqual([ended("sess_slow"), ended("sess_fast")])
        // An instance whose clock is a window past the moment these were
        // sent (as if they were replayed that much later) hears none of them...
        const later = { millis: 2 * (PAST_MILLIS + FUTURE_MILLIS) }
        const late = yield* share(scope, prefix, "late", later)
        const heardLate: unknown[] = []
        yield* late.subscribe((message) => heardLate.push(message)).pipe(Scope.provide(scope))
        // b, the tap, late.
        yield* subscribed(prefix, 3)
        yield* replay(prefix, [...seen])
        // ...while what a peer on its time sends now still reaches it. Sent
        // after the replays (each PUBLISH answered), it is heard after them:
        // once it is, the replays were decided.
        const peer = yield* share(scope, prefix, "peer", later)
        yield* peer.publish({ _tag: "ended", sessionId: "sess_now" })
        yield* until(() => heardLate.length > 0)
        expect(heardLate).toEqual([ended("sess_now")])
      }),
    )
  })

  it("every listener of one share hears each sealed event, once", async () => {
    const prefix = nextPrefix()
    await run((scope) =>
      Effect.gen(function* () {
        // Two clients on one share (one store): each subscribes on its own.
        const [a, b] = yield* Effect.all([share(scope, prefix, "a"), share(scope, prefix, "b")])
        const first: unknown[] = []
        const second: unknown[] = []
        yield* b.subscribe((message) => first.push(message)).pipe(Scope.provide(scope))
        yield* b.subscribe((message) => second.push(message)).pipe(Scope.provide(scope))
        yield* subscribed(prefix, 2)
        const seen = yield* tap(prefix).pipe(Scope.provide(scope))
        yield* a.publish({ _tag: "ended", sessionId: "sess_both" })
        yield* until(() => first.length > 0 && second.length > 0)
        const ended = { _tag: "ended", sessionId: "sess_both" }
        expect(first).toEqual([ended])
        expect(second).toEqual([ended])
        // Replayed: neither hears it again; a fresh event after it, both do.
        yield* replay(prefix, [...seen])
        yield* a.publish({ _tag: "ended", sessionId: "sess_next" })
        yield* until(() => first.length > 1 && second.length > 1)
        const next = { _tag: "ended", sessionId: "sess_next" }
        expect(first).toEqual([ended, next])
        expect(second).toEqual([ended, next])
      }),
    )
  })

  it("a sealed event whose id was heard before is not heard again, whatever else it says", async () => {
    const prefix = nextPrefix()
    await run((scope) =>
      Effect.gen(function* () {
        const b = yield* share(scope, prefix, "b")
        const heard: unknown[] = []
        yield* b.subscribe((message) => heard.push(message)).pipe(Scope.provide(scope))
        yield* subscribed(prefix, 1)
        const event = (s: string, id: string) => ({ o: "x", t: "end", s, ts: Date.now(), id })
        yield* replay(prefix, [yield* seal(prefix, event("sess_1", "id-1"))])
        // The same id with another session, sealed afresh (another IV, another ciphertext).
        yield* replay(prefix, [yield* seal(prefix, event("sess_2", "id-1"))])
        yield* replay(prefix, [yield* seal(prefix, event("sess_3", "id-2"))])
        // Heard in order: two heard, and the second is sess_2 if it got through.
        yield* until(() => heard.length >= 2)
        expect(heard).toEqual([
          { _tag: "ended", sessionId: "sess_1" },
          { _tag: "ended", sessionId: "sess_3" },
        ])
      }),
    )
  })

  it("a sealed event without a time or id (sealed by an older version) is not heard", async () => {
    const prefix = nextPrefix()
    await run((scope) =>
      Effect.gen(function* () {
        const b = yield* share(scope, prefix, "b")
        const heard: unknown[] = []
        yield* b.subscribe((message) => heard.push(message)).pipe(Scope.provide(scope))
        yield* subscribed(prefix, 1)
        const old = [
          { o: "x", t: "end", s: "sess_old" },
          { o: "x", t: "inv", f: {} },
          { o: "x", t: "end", s: "sess_no_id", ts: Date.now() },
          { o: "x", t: "end", s: "sess_no_ts", id: "id-3" },
          { o: "x", t: "end", s: "sess_bad_ts", ts: "now", id: "id-4" },
        ]
        for (const event of old) yield* replay(prefix, [yield* seal(prefix, event)])
        // A fresh, stamped event after them: once it is heard, they were all decided.
        const fresh = { o: "x", t: "end", s: "sess_fresh", ts: Date.now(), id: "id-5" }
        yield* replay(prefix, [yield* seal(prefix, fresh)])
        yield* until(() => heard.length > 0)
        expect(heard).toEqual([{ _tag: "ended", sessionId: "sess_fresh" }])
      }),
    )
  })
})

describe("the replay guard", () => {
  it("remembers an id until its event is too old anyway, and never more than MAX_REMEMBERED", () => {
    let now = 1_000_000
    const guard = makeReplayGuard(() => now)
    expect(guard.admit(now, "a")).toBeUndefined()
    expect(guard.admit(now, "a")).toBe("seen")
    now += PAST_MILLIS
    expect(guard.admit(now - PAST_MILLIS, "a")).toBe("seen")
    now += 1
    expect(guard.admit(now - PAST_MILLIS - 1, "a")).toBe("stale")
    expect(guard.admit(now + FUTURE_MILLIS + 1, "c")).toBe("future")
    expect(guard.admit(Number.NaN, "d")).toBe("stale")
    // Forgotten once too old: only the id just heard is left.
    expect(guard.admit(now, "b")).toBeUndefined()
    expect(guard.size()).toBe(1)
    // Full: the oldest id is forgotten first.
    let admitted = 0
    for (let i = 0; i < MAX_REMEMBERED + 1; i++) {
      if (guard.admit(now, `n${i}`) === undefined) admitted += 1
    }
    expect(admitted).toBe(MAX_REMEMBERED + 1)
    expect(guard.size()).toBe(MAX_REMEMBERED)
    expect(guard.admit(now, "n0")).toBeUndefined()
    expect(guard.admit(now, `n${MAX_REMEMBERED}`)).toBe("seen")
  })

  it("does not go back in time when the host clock does", () => {
    let now = 1_000_000
    const guard = makeReplayGuard(() => now)
    const sent = now
    expect(guard.admit(sent, "a")).toBeUndefined()
    now += PAST_MILLIS + 1
    // Too old now: its id is forgotten as the next event comes in.
    expect(guard.admit(sent, "a")).toBe("stale")
    expect(guard.admit(now, "b")).toBeUndefined()
    // The host clock is set back 10 s: "a" is still as old as it was.
    now -= 10_000
    expect(guard.admit(sent, "a")).toBe("stale")
  })

  it("follows the clock set back by more than a window: a clock that jumped ahead once does not mute it", () => {
    let now = 1_000_000
    const guard = makeReplayGuard(() => now)
    // A wrong step an hour ahead, then corrected.
    now += 3_600_000
    expect(guard.admit(now, "ahead")).toBeUndefined()
    now -= 3_600_000
    expect(guard.admit(now, "fresh")).toBeUndefined()
    expect(guard.admit(now, "fresh")).toBe("seen")
    // What was heard stays remembered.
    expect(guard.admit(now + 3_600_000, "ahead")).toBe("future")
  })
})

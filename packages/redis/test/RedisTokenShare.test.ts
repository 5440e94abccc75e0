/**
 * The share itself, against a real redis-server: what goes into Redis, the
 * lock, session ends, encryption, and Redis failing under it. Several
 * instances are several shares, each with its own Redis connection.
 */
import { randomBytes } from "node:crypto"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { TokenShare, type TokenRequest } from "@tok/core"
import type { DevServer } from "@tok/dev-server"
import { RedisTokenShare } from "@tok/redis"
import { beforeAll, describe, expect, it } from "vitest"
import { subscribed, untilEffect } from "./support/poll.ts"
import type { RedisServer } from "./support/redisServer.ts"
import { type RawClient, useRedisStack } from "./support/stack.ts"

/**
 * How every JWT starts (`{"alg":` in base64url). Not just `eyJ`: sealed
 * values are random base64url, and one in about 260,000 places of it reads
 * `eyJ` by chance (a 60 s fleet run stores enough to hit it).
 */
const JWT_START = "eyJhbGci"

const stack = useRedisStack()
let redis: RedisServer
let dev: DevServer
let raw: RawClient
let prefixes = 0

beforeAll(() => void ({ redis, dev, raw } = stack))

/** Starts `count` instances' shares (own connections, one prefix per test); closed with the scope. */
const shares = (scope: Scope.Scope, count: number, options: RedisTokenShare.Options = {}) =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => i),
    (i) =>
      Layer.buildWithScope(
        RedisTokenShare.layerNode({
          ...options,
          instanceId: `i${i}`,
          redis: { url: redis.url },
        }),
        scope,
      ).pipe(Effect.map((context) => Context.get(context, TokenShare.TokenShare))),
  )

const run = <A, E>(f: (scope: Scope.Scope) => Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      return yield* f(scope).pipe(Effect.ensuring(Scope.close(scope, Exit.void)))
    }),
  )

const nextPrefix = () => `t${(prefixes += 1)}:`

const signedIn = async (template?: string) => {
  const session = dev.signIn(`user_${prefixes}_${Math.random()}`)
  const request: TokenRequest = { sessionId: session.id, template }
  const jwt = await dev.issueToken(
    template === undefined ? { sessionId: session.id } : { sessionId: session.id, template },
  )
  return { request, jwt }
}

const rawValues = async (prefix: string) => {
  const values: string[] = []
  for await (const keys of raw.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
    for (const key of keys) {
      if ((await raw.type(key)) === "string") values.push((await raw.get(key)) ?? "")
    }
  }
  return values
}

describe("RedisTokenShare", () => {
  it("a token one instance publishes is what another gets, and Redis keeps it no longer than it lives", async () => {
    const prefix = nextPrefix()
    const { request, jwt } = await signedIn("supabase")
    await run((scope) =>
      Effect.gen(function* () {
        const [a, b] = yield* shares(scope, 2, { prefix })
        expect(yield* b!.get(request)).toBeUndefined()
        yield* a!.publish({ _tag: "token", token: { request, jwt, expiresInMillis: 5000 } })
        const got = yield* b!.get(request)
        expect(got?.jwt).toBe(jwt)
        expect(got?.request).toEqual(request)
        expect(got!.expiresInMillis).toBeLessThanOrEqual(5000)
        expect(got!.expiresInMillis).toBeGreaterThan(4000)
      }),
    )
    const keys = await raw.keys(`${prefix}*`)
    const tokenKey = keys.find((key) => key.includes(":tok:"))!
    // Under the prefix, in the session's hash slot, expiring with the token.
    expect(tokenKey.startsWith(`${prefix}{${request.sessionId}}:`)).toBe(true)
    expect(keys.every((key) => key.startsWith(`${prefix}{${request.sessionId}}:`))).toBe(true)
    const pttl = await raw.pTTL(tokenKey)
    expect(pttl).toBeGreaterThan(0)
    expect(pttl).toBeLessThanOrEqual(5000)
  })

  it("one instance holds a key's lock; a peer waits and takes it once the holder is done", async () => {
    const prefix = nextPrefix()
    const { request, jwt } = await signedIn()
    await run((scope) =>
      Effect.gen(function* () {
        const [a, b] = yield* shares(scope, 2, { prefix })
        const holder = yield* Scope.make()
        expect(yield* a!.lock(request, 1000).pipe(Scope.provide(holder))).toBe(true)
        // Held by a peer past the wait: false, the caller fetches on its own.
        expect(yield* Effect.scoped(b!.lock(request, 200))).toBe(false)
        const started = Date.now()
        const waiter = yield* Effect.forkChild(
          Effect.scoped(
            Effect.gen(function* () {
              const held = yield* b!.lock(request, 5000)
              return { held, token: yield* b!.get(request), ms: Date.now() - started }
            }),
          ),
        )
        yield* Effect.sleep("300 millis")
        yield* a!.publish({ _tag: "token", token: { request, jwt, expiresInMillis: 30_000 } })
        yield* Scope.close(holder, Exit.void)
        const result = yield* Fiber.join(waiter)
        expect(result.held).toBe(true)
        expect(result.token?.jwt).toBe(jwt)
        // Woken by the holder's event, not by the end of its wait.
        expect(result.ms).toBeLessThan(1500)
      }),
    )
  })

  it("a lock is renewed while its holder works, and free again once the holder is done", async () => {
    const prefix = nextPrefix()
    const { request } = await signedIn()
    await run((scope) =>
      Effect.gen(function* () {
        // A lease of 2 s, renewed every 667 ms: a renewal may stall well over
        // a second on a loaded machine (CI runs projects side by side)
        // before the lease runs out under its holder.
        const [a, b] = yield* shares(scope, 2, { prefix, lockTtl: 2000 })
        const holder = yield* Scope.make()
        expect(yield* a!.lock(request, 100).pipe(Scope.provide(holder))).toBe(true)
        // Held for two and a quarter lifetimes of the lease: renewed.
        yield* Effect.sleep("4500 millis")
        expect(yield* Effect.scoped(b!.lock(request, 50))).toBe(false)
        yield* Scope.close(holder, Exit.void)
        expect(yield* Effect.scoped(b!.lock(request, 50))).toBe(true)
      }),
    )
  })

  it("a session end reaches the peers, deletes the session's tokens, and keeps a late fetch out of Redis", async () => {
    const prefix = nextPrefix()
    const { request, jwt } = await signedIn()
    await run((scope) =>
      Effect.gen(function* () {
        const [a, b] = yield* shares(scope, 2, { prefix })
        const heard: unknown[] = []
        yield* b!.subscribe((message) => heard.push(message)).pipe(Scope.provide(scope))
        yield* a!.publish({ _tag: "token", token: { request, jwt, expiresInMillis: 30_000 } })
        expect((yield* b!.get(request))?.jwt).toBe(jwt)
        yield* a!.publish({ _tag: "ended", sessionId: request.sessionId })
        expect(yield* b!.get(request)).toBeUndefined()
        // A fetch that was in flight when the session ended finishes now: not stored.
        yield* b!.publish({ _tag: "token", token: { request, jwt, expiresInMillis: 30_000 } })
        expect(yield* a!.get(request)).toBeUndefined()
        yield* Effect.sleep("200 millis")
        // Heard from the event, and again from each read that found the end in Redis.
        expect(heard.length).toBeGreaterThan(0)
        for (const message of heard) {
          expect(message).toEqual({ _tag: "ended", sessionId: request.sessionId })
        }
        expect(TokenShare.decodeMessage(heard[0])).toEqual(heard[0])
      }),
    )
  })

  it("invalidate deletes the tokens its filter matches and tells the peers", async () => {
    const prefix = nextPrefix()
    const plain = await signedIn()
    const jwt2 = await dev.issueToken({ sessionId: plain.request.sessionId, template: "supabase" })
    const templated = { sessionId: plain.request.sessionId, template: "supabase" }
    await run((scope) =>
      Effect.gen(function* () {
        const [a, b] = yield* shares(scope, 2, { prefix })
        const heard: unknown[] = []
        yield* b!.subscribe((message) => heard.push(message)).pipe(Scope.provide(scope))
        yield* subscribed(raw, `${prefix}events`, 1)
        yield* a!.publish({
          _tag: "token",
          token: { request: plain.request, jwt: plain.jwt, expiresInMillis: 30_000 },
        })
        yield* a!.publish({
          _tag: "token",
          token: { request: templated, jwt: jwt2, expiresInMillis: 30_000 },
        })
        const filter = { sessionId: plain.request.sessionId, template: "supabase" }
        yield* a!.publish({ _tag: "invalidated", filter })
        expect(yield* b!.get(templated)).toBeUndefined()
        expect((yield* b!.get(plain.request))?.jwt).toBe(plain.jwt)
        yield* untilEffect(() => heard.length > 0)
        expect(heard).toEqual([
          { _tag: "invalidated", filter: { ...filter, organizationId: undefined } },
        ])
      }),
    )
  })

  it("invalidate without a session: no instance reads the Redis copies again, nor a token fetched before it", async () => {
    const prefix = nextPrefix()
    const first = await signedIn("supabase")
    const second = await signedIn()
    await run((scope) =>
      Effect.gen(function* () {
        const [a, b] = yield* shares(scope, 2, { prefix })
        const token = (t: { request: TokenRequest; jwt: string }) =>
          ({ _tag: "token", token: { ...t, expiresInMillis: 30_000 } }) as const
        yield* a!.publish(token(first))
        expect((yield* b!.get(first.request))?.jwt).toBe(first.jwt)
        // b looks for the second key, finds nothing and fetches it, slowly.
        expect(yield* b!.get(second.request)).toBeUndefined()
        yield* a!.publish({ _tag: "invalidated", filter: { template: "supabase" } })
        // b's fetch (started before the invalidate) comes back now.
        yield* b!.publish(token(second))
        expect(yield* a!.get(first.request)).toBeUndefined()
        expect(yield* b!.get(first.request)).toBeUndefined()
        expect(yield* a!.get(second.request)).toBeUndefined()
        // Tokens fetched after it are shared as before.
        yield* a!.publish(token(first))
        expect((yield* b!.get(first.request))?.jwt).toBe(first.jwt)
      }),
    )
  })

  describe("encrypted at rest", () => {
    const key = randomBytes(32).toString("base64")

    it("with an encryption key, an event published by hand ends no session; a sealed one does", async () => {
      const prefix = nextPrefix()
      const { request, jwt } = await signedIn()
      const channel = `${prefix}events`
      const seen: string[] = []
      const listener = raw.duplicate()
      await listener.connect()
      await listener.subscribe(channel, (message) => void seen.push(message))
      try {
        await run((scope) =>
          Effect.gen(function* () {
            const [a, b] = yield* shares(scope, 2, { prefix, encryptionKey: key })
            const [stranger] = yield* shares(scope, 1, {
              prefix,
              encryptionKey: randomBytes(32).toString("base64"),
            })
            const heard: unknown[] = []
            yield* b!.subscribe((message) => heard.push(message)).pipe(Scope.provide(scope))
            // b's subscription and the test's own listener.
            yield* subscribed(raw, channel, 2)
            yield* a!.publish({ _tag: "token", token: { request, jwt, expiresInMillis: 30_000 } })
            // An end mark written by hand in Redis is no end.
            const mark = `${prefix}{${request.sessionId}}:ended`
            yield* Effect.promise(() => raw.set(mark, "ended", { PX: 30_000 }))
            expect((yield* b!.get(request))?.jwt).toBe(jwt)
            yield* Effect.promise(() => raw.del(mark))
            const end = { o: "i0", t: "end", s: request.sessionId }
            const inv = { o: "i0", t: "inv", f: {} }
            // Forged: plain JSON as an unkeyed instance sends it, and an
            // event sealed under another key.
            yield* Effect.promise(() => raw.publish(channel, JSON.stringify(end)))
            yield* Effect.promise(() => raw.publish(channel, JSON.stringify(inv)))
            yield* stranger!.publish({ _tag: "ended", sessionId: request.sessionId })
            // A sealed token value replayed as an event: bound to its key, it does not open.
            const sealed = (yield* Effect.promise(() => raw.keys(`${prefix}*:tok:*`))).map(
              (tokenKey) => raw.get(tokenKey),
            )
            for (const value of yield* Effect.promise(() => Promise.all(sealed))) {
              yield* Effect.promise(() => raw.publish(channel, value ?? ""))
            }
            // A sealed event of another session marks the end of the forgeries:
            // b handles events one at a time, in the order Redis delivers
            // them, so once it is heard every forgery before it was decided.
            yield* a!.publish({ _tag: "ended", sessionId: "sess_marker" })
            yield* untilEffect(() => heard.length > 0)
            const marker = { _tag: "ended", sessionId: "sess_marker" }
            expect(heard).toEqual([marker])
            // A sealed one, from an instance with the key, is heard.
            yield* a!.publish({ _tag: "ended", sessionId: request.sessionId })
            yield* untilEffect(() => heard.length > 1)
            expect(heard).toEqual([marker, { _tag: "ended", sessionId: request.sessionId }])
          }),
        )
      } finally {
        await listener.close()
      }
      // What went over the channel names no session and holds no JWT.
      expect(seen.length).toBeGreaterThan(3)
      for (const message of seen.filter((m) => !m.startsWith("{"))) {
        expect(message).not.toContain(request.sessionId)
        expect(message).not.toContain(JWT_START)
      }
    })

    it("with an encryption key, no raw Redis value holds a JWT, and peers with the key still read the token", async () => {
      const prefix = nextPrefix()
      const { request, jwt } = await signedIn("supabase")
      await run((scope) =>
        Effect.gen(function* () {
          const [a, b] = yield* shares(scope, 2, { prefix, encryptionKey: key })
          yield* a!.publish({ _tag: "token", token: { request, jwt, expiresInMillis: 30_000 } })
          expect((yield* b!.get(request))?.jwt).toBe(jwt)
        }),
      )
      const values = await rawValues(prefix)
      expect(values.length).toBeGreaterThan(0)
      for (const value of values) expect(value).not.toContain(JWT_START)
    })

    it("a value forged by hand, sealed under another key, or moved to another key is never served", async () => {
      const prefix = nextPrefix()
      const victim = await signedIn()
      const other = await signedIn()
      await run((scope) =>
        Effect.gen(function* () {
          const [a] = yield* shares(scope, 1, { prefix, encryptionKey: key })
          const [stranger] = yield* shares(scope, 1, {
            prefix,
            encryptionKey: randomBytes(32).toString("base64"),
          })
          // The attacker's own token, sealed properly for the other session.
          yield* a!.publish({
            _tag: "token",
            token: { request: other.request, jwt: other.jwt, expiresInMillis: 30_000 },
          })
          const otherKey = (yield* Effect.promise(() => raw.keys(`${prefix}*:tok:*`)))[0]!
          const victimKey = otherKey.replace(other.request.sessionId, victim.request.sessionId)
          // 1. Moved under the victim's key: bound to its own key, it does not open.
          const sealed = (yield* Effect.promise(() => raw.get(otherKey)))!
          yield* Effect.promise(() => raw.set(victimKey, sealed, { PX: 30_000 }))
          expect(yield* a!.get(victim.request)).toBeUndefined()
          // 2. Plain JSON put in by hand: not sealed, not read.
          const forged = JSON.stringify({
            v: 1,
            jwt: victim.jwt,
            sessionId: victim.request.sessionId,
          })
          yield* Effect.promise(() => raw.set(victimKey, forged, { PX: 30_000 }))
          expect(yield* a!.get(victim.request)).toBeUndefined()
          // 3. Sealed under another key.
          yield* stranger!.publish({
            _tag: "token",
            token: { request: victim.request, jwt: victim.jwt, expiresInMillis: 30_000 },
          })
          expect(yield* a!.get(victim.request)).toBeUndefined()
          // 4. Garbage.
          yield* Effect.promise(() => raw.set(victimKey, "v1.AAAA.BBBB", { PX: 30_000 }))
          expect(yield* a!.get(victim.request)).toBeUndefined()
        }),
      )
    })
  })

  it("ids that are not well-formed UTF-16 get keys of their own: shared, invalidated and ended, never a crash", async () => {
    const prefix = nextPrefix()
    const session = dev.signIn(`user_lone_${Math.random()}`)
    const jwt = await dev.issueToken({ sessionId: session.id, template: "supabase" })
    // A lone surrogate (a client sent half a pair) and what it would be mended into.
    const lone = { sessionId: session.id, template: "supa\uD800", organizationId: "org_\uDC00" }
    const mended = { sessionId: session.id, template: "supa\uFFFD", organizationId: "org_\uFFFD" }
    await run((scope) =>
      Effect.gen(function* () {
        const [a, b] = yield* shares(scope, 2, { prefix, encryptionKey: randomBytes(32) })
        const token = (request: TokenRequest) =>
          a!.publish({ _tag: "token", token: { request, jwt, expiresInMillis: 30_000 } })
        yield* token(lone)
        expect((yield* b!.get(lone))?.jwt).toBe(jwt)
        expect(yield* b!.get(mended)).toBeUndefined()
        yield* token(mended)
        yield* a!.publish({
          _tag: "invalidated",
          filter: { sessionId: session.id, template: lone.template },
        })
        expect(yield* b!.get(lone)).toBeUndefined()
        expect((yield* b!.get(mended))?.jwt).toBe(jwt)
        yield* a!.publish({ _tag: "ended", sessionId: `${session.id}\uDBFF` })
        expect((yield* b!.get(mended))?.jwt).toBe(jwt)
      }),
    )
  })

  it("a member of a session's index that names no key of tok's does not stop an invalidate", async () => {
    const prefix = nextPrefix()
    const { request, jwt } = await signedIn("supabase")
    await run((scope) =>
      Effect.gen(function* () {
        const [a, b] = yield* shares(scope, 2, { prefix })
        yield* a!.publish({ _tag: "token", token: { request, jwt, expiresInMillis: 30_000 } })
        const index = `${prefix}{${request.sessionId}}:index`
        // Spelled like a token key, with an escape no decoder takes back.
        yield* Effect.promise(() => raw.sAdd(index, `${prefix}{${request.sessionId}}:tok:=%E0:-`))
        yield* a!.publish({ _tag: "invalidated", filter: { sessionId: request.sessionId } })
        expect(yield* b!.get(request)).toBeUndefined()
      }),
    )
  })

  it("without encryption, a value that is not a well-formed token for its key is ignored", async () => {
    const prefix = nextPrefix()
    const victim = await signedIn()
    const other = await signedIn()
    await run((scope) =>
      Effect.gen(function* () {
        const [a] = yield* shares(scope, 1, { prefix })
        yield* a!.publish({
          _tag: "token",
          token: { request: victim.request, jwt: victim.jwt, expiresInMillis: 30_000 },
        })
        const victimKey = (yield* Effect.promise(() => raw.keys(`${prefix}*:tok:*`)))[0]!
        const put = (value: string, px = 30_000) =>
          Effect.promise(() => raw.set(victimKey, value, { PX: px }))
        const payload = (fields: Record<string, unknown>) =>
          JSON.stringify({ v: 1, jwt: victim.jwt, sessionId: victim.request.sessionId, ...fields })
        expect((yield* a!.get(victim.request))?.jwt).toBe(victim.jwt)
        // Another session's token (its sid claim) under the victim's key.
        yield* put(payload({ jwt: other.jwt }))
        expect(yield* a!.get(victim.request)).toBeUndefined()
        // A payload naming another request.
        yield* put(payload({ template: "supabase" }))
        expect(yield* a!.get(victim.request)).toBeUndefined()
        // Not a JWT; not JSON.
        yield* put(payload({ jwt: "not.a.jwt" }))
        expect(yield* a!.get(victim.request)).toBeUndefined()
        yield* put("{")
        expect(yield* a!.get(victim.request)).toBeUndefined()
        // Kept longer than the token lives (60 s).
        yield* put(payload({}), 120_000)
        expect(yield* a!.get(victim.request)).toBeUndefined()
      }),
    )
  })

  it("bad options fail the layer with InvalidOptionsError", async () => {
    for (const options of [
      { encryptionKey: "c2hvcnQ=" },
      { prefix: "a{b}" },
      { lockTtl: Number.NaN },
      { redisTimeout: -1 },
    ]) {
      const exit = await Effect.runPromiseExit(
        Effect.scoped(
          Layer.build(RedisTokenShare.layerNode({ ...options, redis: { url: redis.url } })),
        ),
      )
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("InvalidOptionsError")
    }
  })

  describe("Redis failing", () => {
    it("Redis hung (SIGSTOP): every call answers within redisTimeout, then sharing resumes (SIGCONT)", async () => {
      const prefix = nextPrefix()
      const { request, jwt } = await signedIn()
      await run((scope) =>
        Effect.gen(function* () {
          const redisTimeout = 200
          const [a, b] = yield* shares(scope, 2, { prefix, redisTimeout })
          // Each call within redisTimeout, with room for a late timer on a busy
          // machine: far below a hung Redis (forever) and the lock's 5 s wait.
          const bound = redisTimeout + 400
          const timed = <A, E>(effect: Effect.Effect<A, E>) =>
            Effect.gen(function* () {
              const started = Date.now()
              const result = yield* effect
              expect(Date.now() - started).toBeLessThan(bound)
              return result
            })
          redis.pause()
          try {
            for (let i = 0; i < 5; i++) {
              expect(yield* timed(a!.get(request))).toBeUndefined()
              const lock = yield* timed(Effect.scoped(Effect.result(a!.lock(request, 5000))))
              expect(lock._tag).toBe("Failure")
              yield* timed(
                a!.publish({ _tag: "token", token: { request, jwt, expiresInMillis: 30_000 } }),
              )
            }
          } finally {
            redis.resume()
          }
          // The breaker lets a probe through within a second or so.
          const resumed = yield* a!
            .publish({ _tag: "token", token: { request, jwt, expiresInMillis: 30_000 } })
            .pipe(
              Effect.andThen(b!.get(request)),
              Effect.repeat({
                until: (token) => token !== undefined,
                schedule: Schedule.spaced("100 millis"),
              }),
              Effect.timeoutOption("5 seconds"),
            )
          expect(resumed._tag).toBe("Some")
        }),
      )
    })
  })
})

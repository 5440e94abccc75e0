/**
 * DESIGN §7.4 against a real redis-server and a real dev server, on random
 * input: whatever sits under the keys tok reads for a request (its token,
 * its session's end mark, the prefix's generation) and whatever is
 * published on its channel, a client's `getToken` makes exactly one request
 * and returns a token of that session, and no listener hears anything of
 * the garbage. Few runs: each one does real I/O.
 */
import { randomBytes } from "node:crypto"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as Scope from "effect/Scope"
import { Token, TokenClient, TokenShare, TokenSource, type TokenRequest } from "@tok/core"
import type { DevServer } from "@tok/dev-server"
import { RedisTokenShare } from "@tok/redis"
import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { encodePayload, generationKey, keysOf } from "../src/internal/codec.ts"
import { makeSealer } from "../src/internal/crypto.ts"
import { makeEventCodec } from "../src/internal/events.ts"
import { FUTURE_MILLIS, PAST_MILLIS } from "../src/internal/replay.ts"
import { ENDED, indexOf } from "../src/internal/scripts.ts"
import { subscribed, untilEffect as until } from "./support/poll.ts"
import type { RedisServer } from "./support/redisServer.ts"
import { type RawClient, useRedisStack } from "./support/stack.ts"

const stack = useRedisStack()
let redis: RedisServer
let dev: DevServer
let raw: RawClient
let prefixes = 0

beforeAll(() => void ({ redis, dev, raw } = stack))

const KEY = randomBytes(32)
const sealer = await makeSealer(KEY)
const otherSealer = await makeSealer(randomBytes(32))

/** Runs `f` in a scope; tok's warnings of the refused events (expected here) are not printed. */
const run = <A, E>(f: (scope: Scope.Scope) => Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      return yield* f(scope).pipe(Effect.ensuring(Scope.close(scope, Exit.void)))
    }).pipe(Effect.provideService(References.MinimumLogLevel, "Error")),
  )

const shareLayer = (prefix: string, sealed: boolean, name: string) =>
  RedisTokenShare.layerNode({
    prefix,
    encryptionKey: sealed ? new Uint8Array(KEY) : undefined,
    instanceId: name,
    redis: { url: redis.url },
  })

const tokenRequests = (sessionId: string) => dev.stats().sessions[sessionId]?.tokenRequests ?? 0

// ---- what is written and published ---------------------------------------

/** Text that is no value tok wrote: any string, JSON, seal-shaped text. */
const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 120 }),
  fc.json(),
  fc.anything().map((value) => JSON.stringify(value) ?? ""),
  fc
    .tuple(fc.uint8Array({ maxLength: 60 }), fc.uint8Array({ maxLength: 60 }))
    .map(
      ([a, b]) =>
        `v1.${Buffer.from(a).toString("base64url")}.${Buffer.from(b).toString("base64url")}`,
    ),
)

/** What goes under the token key: garbage, or a real token that is not one for this key. */
type Bad =
  | { readonly kind: "text"; readonly value: string }
  | { readonly kind: "wrongType" }
  | { readonly kind: "otherSession" }
  | { readonly kind: "otherRequest"; readonly template: string | undefined }
  | { readonly kind: "otherKey" }
  | { readonly kind: "otherGeneration"; readonly g: number }
  | { readonly kind: "outlives" }
  | { readonly kind: "copiedFrom"; readonly template: string | undefined }

const template = fc.constantFrom(undefined, "supabase", "hasura")
const organizationId = fc.constantFrom(undefined, "org_1", "org_\u00e9\u{1F600}")

const bad: fc.Arbitrary<Bad> = fc.oneof(
  text.map((value) => ({ kind: "text" as const, value })),
  fc.constant({ kind: "wrongType" as const }),
  fc.constant({ kind: "otherSession" as const }),
  template.map((t) => ({ kind: "otherRequest" as const, template: t })),
  fc.constant({ kind: "otherKey" as const }),
  fc.integer({ min: 1, max: 9 }).map((g) => ({ kind: "otherGeneration" as const, g })),
  fc.constant({ kind: "outlives" as const }),
  template.map((t) => ({ kind: "copiedFrom" as const, template: t })),
)

/** Whether an unsealed channel message would be an event (trusted without a key, by design). */
const looksLikeEvent = (message: string): boolean => {
  try {
    const value: unknown = JSON.parse(message)
    const t = typeof value === "object" && value !== null ? (value as { t?: unknown }).t : undefined
    return t === "end" || t === "inv" || t === "token"
  } catch {
    return false
  }
}

const scenario = fc.record({
  sealed: fc.boolean(),
  template,
  organizationId,
  token: bad,
  // Longer than the client's buffer (10 s), shorter than the token's life
  // (60 s): a value that were well formed would be served.
  ttl: fc.integer({ min: 15_000, max: 55_000 }),
  ended: fc.option(fc.oneof(text, fc.constant("wrongType")), { nil: undefined }),
  generation: fc.option(text, { nil: undefined }),
  messages: fc.array(
    fc.oneof(
      text.map((value) => ({ kind: "text" as const, value })),
      // Events naming this session, as an attacker or a stale peer would send them.
      fc.record({
        kind: fc.constantFrom("plain", "stale", "future", "otherKey", "otherChannel"),
        event: fc.constantFrom("end", "inv"),
      }),
    ),
    { maxLength: 6 },
  ),
  // Members of the session's index that name no token tok wrote (an
  // invalidate reads them): parts as keys spell them, and ones no decoder takes.
  index: fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom("-", "=%E0", "=%", "=%uD800"),
        text.map((t) => `=${t.replace(/:/g, "")}`),
      ),
      fc.oneof(
        fc.constantFrom("-", "=%E0%A4%A", "=%ZZ"),
        text.map((t) => `=${t.replace(/:/g, "")}`),
      ),
    ),
    { maxLength: 4 },
  ),
  // A real event (of another session) published twice: heard once.
  replayed: fc.boolean(),
})

type Message = (typeof scenario extends fc.Arbitrary<infer S> ? S : never)["messages"][number]

/** The value the scenario puts under the token key (a real JWT for the wrong things, or garbage). */
const badValue = async (
  bad: Bad,
  sealed: boolean,
  request: TokenRequest,
  tokenKey: string,
  prefix: string,
): Promise<string | undefined> => {
  const seal = (plaintext: string) => (sealed ? sealer.seal(plaintext, tokenKey) : plaintext)
  const jwtFor = (r: TokenRequest) =>
    dev.issueToken({
      sessionId: r.sessionId,
      ...(r.template === undefined ? {} : { template: r.template }),
      ...(r.organizationId === undefined ? {} : { organizationId: r.organizationId }),
    })
  switch (bad.kind) {
    case "text":
      return bad.value
    case "wrongType":
      return undefined
    case "otherSession": {
      // A payload naming this request, holding a real token of another session.
      const other = dev.signIn(`user_other_${Math.random()}`).id
      return seal(encodePayload(request, await jwtFor({ ...request, sessionId: other }), 0))
    }
    case "otherRequest": {
      // A real token of this session, in a payload naming another template.
      const other = { ...request, template: bad.template === request.template ? "x" : bad.template }
      return seal(encodePayload(other, await jwtFor(request), 0))
    }
    case "otherKey":
      return (sealed ? otherSealer : sealer).seal(
        encodePayload(request, await jwtFor(request), 0),
        tokenKey,
      )
    case "otherGeneration":
      return seal(encodePayload(request, await jwtFor(request), bad.g))
    case "outlives":
      // Well formed, but Redis says it lives longer than the token: refused (written with a long PX).
      return seal(encodePayload(request, await jwtFor(request), 0))
    case "copiedFrom": {
      // Another key's value of the session, copied here: sealed, it does not
      // open under this key; unsealed, its payload names the other request.
      const other = { ...request, template: bad.template === request.template ? "x" : bad.template }
      const jwt = await jwtFor({ ...other, template: request.template })
      return sealed
        ? sealer.seal(encodePayload(request, jwt, 0), keysOf(prefix, other).token)
        : encodePayload(other, jwt, 0)
    }
  }
}

describe("garbage in Redis and on the channel", () => {
  it("is never served, cached or heard: getToken makes one request and returns the session's token", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const prefix = `fz${(prefixes += 1)}:`
        const sessionId = dev.signIn(`user_fuzz_${prefixes}`).id
        const request: TokenRequest = {
          sessionId,
          template: s.template,
          organizationId: s.organizationId,
        }
        const keys = keysOf(prefix, request)
        const channel = `${prefix}events`

        // Garbage under the keys a read looks at.
        const value = await badValue(s.token, s.sealed, request, keys.token, prefix)
        if (value === undefined) await raw.hSet(keys.token, "jwt", "x")
        else {
          const ttl = s.token.kind === "outlives" ? 3_600_000 : s.ttl
          await raw.set(keys.token, value, { PX: ttl })
        }
        if (s.ended === "wrongType") await raw.lPush(keys.ended, "x")
        else if (s.ended !== undefined && s.ended !== ENDED) await raw.set(keys.ended, s.ended)
        if (s.generation !== undefined) await raw.set(generationKey(prefix), s.generation)
        const tag = keys.ended.slice(0, -":ended".length)
        for (const [template, organization] of s.index) {
          await raw.sAdd(indexOf(keys), `${tag}:tok:${template}:${organization}`)
        }

        await run((scope) =>
          Effect.gen(function* () {
            // A listener on the channel, and a client, both on the prefix.
            const heard: Array<unknown> = []
            const listener = yield* Layer.buildWithScope(
              shareLayer(prefix, s.sealed, "listener"),
              scope,
            ).pipe(Effect.map((context) => Context.get(context, TokenShare.TokenShare)))
            yield* listener
              .subscribe((message) => void heard.push(message))
              .pipe(Scope.provide(scope))
            const client = yield* Layer.buildWithScope(
              TokenClient.layer().pipe(
                Layer.provide(
                  TokenSource.clerkBackendApi({ baseUrl: dev.url, secretKey: dev.secretKey }),
                ),
                Layer.provide(shareLayer(prefix, s.sealed, "client")),
              ),
              scope,
            ).pipe(Effect.map((context) => Context.get(context, TokenClient.TokenClient)))
            yield* subscribed(raw, channel, 2)

            // Garbage on the channel, then one real event: once the listener
            // hears that one, it has been through the garbage (Redis
            // delivers in order, a listener handles one at a time).
            const peer = (offset: number, withSealer = sealer, on = channel) =>
              makeEventCodec({
                instanceId: "peer",
                channel: on,
                sealer: s.sealed ? withSealer : undefined,
                now: () => Date.now() + offset,
              })
            const encode = (message: Message): Effect.Effect<string | undefined> => {
              if (message.kind === "text") {
                // Without a key, whoever can PUBLISH is trusted (README): only non-events then.
                return Effect.succeed(
                  !s.sealed && looksLikeEvent(message.value) ? undefined : message.value,
                )
              }
              // Each of these is only ignored because it is not sealed right: with a key.
              if (!s.sealed) return Effect.succeed(undefined)
              const event =
                message.event === "end"
                  ? { t: "end", s: sessionId }
                  : { t: "inv", f: { sessionId } }
              switch (message.kind) {
                case "plain":
                  return Effect.succeed(JSON.stringify({ o: "peer", ...event }))
                case "stale":
                  return peer(-(PAST_MILLIS + 10_000)).encode(event)
                case "future":
                  return peer(FUTURE_MILLIS + 10_000).encode(event)
                case "otherKey":
                  return peer(0, otherSealer).encode(event)
                case "otherChannel":
                  return peer(0, sealer, "fz0:events").encode(event)
                default:
                  return Effect.succeed(undefined)
              }
            }
            const publish = (message: string) => Effect.promise(() => raw.publish(channel, message))
            for (const message of s.messages) {
              const text = yield* encode(message)
              if (text !== undefined) yield* publish(text)
            }
            const expected: Array<unknown> = []
            if (s.replayed) {
              const genuine = yield* peer(0).encode({ t: "end", s: "sess_replayed" })
              yield* publish(genuine)
              yield* publish(genuine)
              // Without a key nothing tells a replay apart (README): heard twice then.
              const times = s.sealed ? 1 : 2
              for (let i = 0; i < times; i++) {
                expected.push({ _tag: "ended", sessionId: "sess_replayed" })
              }
            }
            yield* publish(yield* peer(0).encode({ t: "end", s: "sess_sentinel" }))
            expected.push({ _tag: "ended", sessionId: "sess_sentinel" })
            yield* until(() => heard.length >= expected.length)
            expect(heard).toEqual(expected)

            const token = yield* client.getToken(request)
            expect(token.source).toBe("network")
            expect(tokenRequests(sessionId)).toBe(1)
            const claims = Token.decodeClaims(token.jwt)
            expect(Token.isDecodeFailure(claims) ? undefined : claims.sid).toBe(sessionId)
            // Cached now: the garbage did not take its place.
            const again = yield* client.getToken(request)
            expect(again.jwt).toBe(token.jwt)
            expect(tokenRequests(sessionId)).toBe(1)
            expect(heard).toEqual(expected)

            // An invalidate of the key goes through the index: it drops the
            // copy in Redis, so the next call fetches again.
            yield* client.invalidate(request)
            const after = yield* client.getToken(request)
            expect(after.source).toBe("network")
            expect(tokenRequests(sessionId)).toBe(2)
          }),
        )
      }),
      { numRuns: 30, seed: 0x74_0c, endOnFailure: true },
    )
  })
})

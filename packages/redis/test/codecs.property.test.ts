/**
 * DESIGN §7.4 on random inputs, without Redis: a channel message or a Redis
 * value that is not a well-formed token for the key it claims is ignored,
 * and every well-formed one is heard (events: exactly once per listener).
 * The event codec is driven directly; the stored value goes through the
 * share's real read path (`RedisTokenShare.make(…).get`) on a fake Redis
 * that answers the read script with the value under test.
 */
import { randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as References from "effect/References"
import * as Redis from "effect/persistence/Redis"
import * as Scope from "effect/Scope"
import type { TokenRequest } from "@tok/core"
import { RedisTokenShare } from "@tok/redis"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { encodePayload, keysOf } from "../src/internal/codec.ts"
import { makeSealer, type Sealer } from "../src/internal/crypto.ts"
import { makeEventCodec, type EventFields } from "../src/internal/events.ts"
import { FUTURE_MILLIS, PAST_MILLIS } from "../src/internal/replay.ts"
import { readScript } from "../src/internal/scripts.ts"

const KEY = randomBytes(32)
const OTHER_KEY = randomBytes(32)
const sealer = await makeSealer(KEY)
const otherSealer = await makeSealer(OTHER_KEY)

const CHANNEL = "tok:events"
const AAD = `event:${CHANNEL}`
/** A fixed host time (epoch ms): the codec's clock is a variable, never the real one. */
const T0 = 1_800_000_000_000

/** Runs a decode with tok's debug and warning logs silenced (they are expected here). */
const quiet = <A>(effect: Effect.Effect<A>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.provideService(References.MinimumLogLevel, "None")))

/** A codec of instance `instanceId`, on a clock the test sets. */
const codec = (instanceId: string, withSealer: Sealer | undefined, clock: { now: number }) =>
  makeEventCodec({ instanceId, channel: CHANNEL, sealer: withSealer, now: () => clock.now })

// ---- arbitraries ----------------------------------------------------------

/** Text of halves of surrogate pairs among the characters keys are escaped with. */
const surrogates = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)),
      fc.constantFrom("a", "{", ":", "%", "u", "%uD800", "\uFFFD", "\u{1F600}"),
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((parts) => parts.join(""))

/** Ids as servers may see them: unicode, the characters keys are built from, even lone surrogates. */
const id = fc.oneof(
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 24 }),
  fc.string({ unit: "binary", minLength: 1, maxLength: 24 }),
  surrogates,
  fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 24 }),
  fc.constantFrom("-", "=", ":", "{", "}", "{sess}", "a:tok:-:-", "%7B", "sess_2a\u00e9\u{1F600}"),
)
const optionalId = fc.option(id, { nil: undefined })

const request: fc.Arbitrary<TokenRequest> = fc.record({
  sessionId: id,
  template: optionalId,
  organizationId: optionalId,
})

/** The events the store publishes (store.ts `publish` and the write script). */
const event: fc.Arbitrary<EventFields> = fc.oneof(
  fc.record({ t: fc.constant("end"), s: id }),
  fc.record({
    t: fc.constant("inv"),
    f: fc.record({ sessionId: id, template: id, organizationId: id }, { requiredKeys: [] }),
  }),
  fc.record({
    t: fc.constant("inv"),
    f: fc.record({ template: optionalId }),
    g: fc.nat(),
  }),
  request.map((r) => ({ t: "token", k: keysOf("tok:", r).token })),
)

/** Text that is no sealed message: any string, any JSON, things shaped like a seal. */
const base64url = fc
  .uint8Array({ maxLength: 80 })
  .map((bytes) => Buffer.from(bytes).toString("base64url"))
const garbageText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.json().map((json) => json),
  fc.anything().map((value) => JSON.stringify(value) ?? "undefined"),
  event.map((e) => JSON.stringify({ o: "peer", ...e, ts: T0, id: "x" })),
  fc.tuple(base64url, base64url).map(([iv, data]) => `v1.${iv}.${data}`),
  fc.tuple(fc.string(), fc.string(), fc.string()).map((parts) => parts.join(".")),
  fc.constantFrom("", "v1..", "v1.AAAAAAAAAAAAAAAA.", "null", "[]", "{}", "v2.a.b"),
)

/** Flips one bit of the IV or the ciphertext of a sealed `v1.<iv>.<data>` value. */
const flipBit = (sealed: string, part: 1 | 2, at: number, bit: number): string => {
  const parts = sealed.split(".")
  const bytes = Buffer.from(parts[part]!, "base64url")
  const index = at % bytes.length
  bytes[index] = bytes[index]! ^ (1 << bit)
  parts[part] = bytes.toString("base64url")
  return parts.join(".")
}
const flip = fc.record({
  part: fc.constantFrom(1 as const, 2 as const),
  at: fc.nat(),
  bit: fc.integer({ min: 0, max: 7 }),
})

const RUNS = { numRuns: 200, seed: 0x70c_7_4 }

// ---- keys -----------------------------------------------------------------

/** `a`, and a request like it: the same, any other, or its lone surrogates mended or spelled out. */
const nearby = (a: TokenRequest) => {
  const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
  const mend = (how: (half: string) => string) => (value: string | undefined) =>
    value?.replace(lone, how)
  const variants = [
    mend(() => "\uFFFD"),
    mend((half) => `%u${half.charCodeAt(0).toString(16).toUpperCase()}`),
    mend((half) => encodeURIComponent("\uFFFD") + half.length),
  ].map((f) => ({
    sessionId: f(a.sessionId)!,
    template: f(a.template),
    organizationId: f(a.organizationId),
  }))
  return fc.tuple(fc.constant(a), fc.oneof(fc.constant(a), request, fc.constantFrom(...variants)))
}

describe("Redis keys (codec.ts) on random ids", () => {
  it("every request has keys, in its session's hash slot, that no other request has", () => {
    fc.assert(
      fc.property(request.chain(nearby), ([a, b]) => {
        const [ka, kb] = [keysOf("tok:", a), keysOf("tok:", b)]
        // One hash tag per session: the first {…}, holding no brace itself.
        expect(/^tok:\{[^{}]*\}:/.test(ka.token)).toBe(true)
        expect(ka.token.slice(0, ka.token.indexOf("}") + 1)).toBe(
          ka.ended.slice(0, ka.ended.indexOf("}") + 1),
        )
        const same =
          a.sessionId === b.sessionId &&
          a.template === b.template &&
          a.organizationId === b.organizationId
        expect(ka.token === kb.token).toBe(same)
        expect(ka.lock === kb.lock).toBe(same)
        expect(ka.ended === kb.ended).toBe(a.sessionId === b.sessionId)
      }),
      { numRuns: 300, seed: 0x70c_7_4 },
    )
  })
})

// ---- events ---------------------------------------------------------------

describe("channel messages (events.ts) on random input", () => {
  it("text that is no sealed event is ignored, never thrown on", async () => {
    await fc.assert(
      fc.asyncProperty(garbageText, async (text) => {
        const decode = codec("me", sealer, { now: T0 }).decoder()
        expect(await quiet(decode(text))).toBeUndefined()
      }),
      RUNS,
    )
  })

  it("a sealed event truncated or with one bit flipped is ignored", async () => {
    await fc.assert(
      fc.asyncProperty(
        event,
        fc.oneof(
          flip.map((f) => ({ kind: "flip" as const, ...f })),
          fc.nat().map((cut) => ({ kind: "cut" as const, cut })),
        ),
        async (e, damage) => {
          const clock = { now: T0 }
          const message = await quiet(codec("peer", sealer, clock).encode(e))
          const damaged =
            damage.kind === "flip"
              ? flipBit(message, damage.part, damage.at, damage.bit)
              : message.slice(0, damage.cut % message.length)
          expect(damaged).not.toBe(message)
          expect(await quiet(codec("me", sealer, clock).decoder()(damaged))).toBeUndefined()
        },
      ),
      RUNS,
    )
  })

  it("an event sealed with another key, or for another channel, is ignored", async () => {
    await fc.assert(
      fc.asyncProperty(event, fc.boolean(), async (e, otherKey) => {
        const clock = { now: T0 }
        const plaintext = JSON.stringify({ o: "peer", ...e, ts: T0, id: "abc" })
        const message = otherKey
          ? await otherSealer.seal(plaintext, AAD)
          : await sealer.seal(plaintext, "event:other:events")
        expect(await quiet(codec("me", sealer, clock).decoder()(message))).toBeUndefined()
      }),
      RUNS,
    )
  })

  it("a well-sealed event sent outside the window, or without a well-formed stamp, is ignored", async () => {
    const stamp = fc.oneof(
      // Outside the window: older than PAST_MILLIS or further ahead than FUTURE_MILLIS.
      fc.record({
        ts: fc.oneof(
          fc.integer({ min: T0 - 10 * PAST_MILLIS, max: T0 - PAST_MILLIS - 1 }),
          fc.integer({ min: T0 + FUTURE_MILLIS + 1, max: T0 + 10 * PAST_MILLIS }),
          fc.constantFrom(Number.NaN, -Infinity, Infinity, 0),
        ),
        id: fc.string({ minLength: 1, maxLength: 64 }),
      }),
      // In the window, but the stamp is not one.
      fc.record(
        {
          ts: fc.oneof(fc.string(), fc.constant(null), fc.boolean(), fc.constant(`${T0}`)),
          id: fc.oneof(fc.nat(), fc.constant(""), fc.string({ minLength: 65, maxLength: 80 })),
        },
        { requiredKeys: [] },
      ),
      // In the window, an id that is none.
      fc.record({
        ts: fc.integer({ min: T0 - PAST_MILLIS, max: T0 + FUTURE_MILLIS }),
        id: fc.oneof(
          fc.constant(""),
          fc.string({ minLength: 65, maxLength: 80 }),
          fc.nat(),
          fc.constant(null),
        ),
      }),
    )
    await fc.assert(
      fc.asyncProperty(event, stamp, async (e, s) => {
        const message = await sealer.seal(JSON.stringify({ o: "peer", ...e, ...s }), AAD)
        expect(await quiet(codec("me", sealer, { now: T0 }).decoder()(message))).toBeUndefined()
      }),
      RUNS,
    )
  })

  it("a sealed event is heard once by each listener, with every field it was sent with", async () => {
    await fc.assert(
      fc.asyncProperty(
        event,
        fc.integer({ min: -FUTURE_MILLIS, max: PAST_MILLIS }),
        async (e, lateBy) => {
          // The sender's clock; the receiver's is `lateBy` later (negative: behind).
          const sent = { now: T0 }
          const received = { now: T0 + lateBy }
          const message = await quiet(codec("peer", sealer, sent).encode(e))
          const receiver = codec("me", sealer, received)
          const first = receiver.decoder()
          const second = receiver.decoder()
          const heard = await quiet(first(message))
          expect(heard).toEqual({ o: "peer", ...e, ts: T0, id: expect.any(String) })
          expect(await quiet(first(message))).toBeUndefined()
          expect(await quiet(second(message))).toEqual(heard)
          expect(await quiet(second(message))).toBeUndefined()
          expect(await quiet(first(message))).toBeUndefined()
        },
      ),
      RUNS,
    )
  })

  it("without a key, any text decodes to an object or to nothing, never a throw", async () => {
    await fc.assert(
      fc.asyncProperty(garbageText, async (text) => {
        const heard = await quiet(codec("me", undefined, { now: T0 }).decoder()(text))
        if (heard !== undefined) {
          expect(typeof heard).toBe("object")
          expect(heard).not.toBeNull()
        }
      }),
      RUNS,
    )
  })

  it("without a key, every event round-trips as it was sent", async () => {
    await fc.assert(
      fc.asyncProperty(event, async (e) => {
        const clock = { now: T0 }
        const message = await quiet(codec("peer", undefined, clock).encode(e))
        expect(await quiet(codec("me", undefined, clock).decoder()(message))).toEqual({
          o: "peer",
          ...e,
        })
      }),
      RUNS,
    )
  })
})

// ---- stored values --------------------------------------------------------

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
/** An unsigned JWT with these claims (tok reads claims; the auth server signs). */
const jwtOf = (claims: Record<string, unknown>) =>
  `${b64({ alg: "RS256", typ: "JWT" })}.${b64(claims)}.c2ln`

const PREFIX = "tok:"

/**
 * The share's `get` on a fake Redis whose read script answers `value` with
 * `pttl` left, and whose generation is `generation`.
 */
const readBack = (
  options: { readonly sealed: boolean },
  asked: TokenRequest,
  value: string | null,
  pttl: number,
  generation = 0,
): Promise<string | undefined> => {
  const unsupported = (what: string) => Effect.die(new Error(`the fake Redis has no ${what}`))
  const fake: Redis.Redis["Service"] = {
    send: <A>(command: string, ...args: ReadonlyArray<string>) =>
      command === "GET" && args[0] === `${PREFIX}gen`
        ? Effect.succeed(String(generation) as A)
        : unsupported(command),
    eval: ((script: unknown) =>
      (...params: ReadonlyArray<unknown>) => {
        if (script !== readScript) return unsupported("script but the read script")
        const keys = params[0] as ReturnType<typeof keysOf>
        // The store reads the keys of the request it was asked for.
        expect(keys).toEqual(keysOf(PREFIX, asked))
        return Effect.succeed([value, pttl, null])
      }) as Redis.Redis["Service"]["eval"],
    subscribe: () => Queue.unbounded<Redis.RedisMessage, Redis.RedisError>(),
    reserve: unsupported("reserve"),
  }
  return quiet(
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const share = yield* RedisTokenShare.make({
        prefix: PREFIX,
        encryptionKey: options.sealed ? new Uint8Array(KEY) : undefined,
      }).pipe(
        Effect.provideService(Redis.Redis, fake),
        Effect.provideService(Scope.Scope, scope),
        Effect.orDie,
      )
      const shared = yield* share.get(asked).pipe(Effect.ensuring(Scope.close(scope, Exit.void)))
      return shared?.jwt
    }).pipe(Effect.orDie),
  )
}

/** A token as an instance writes it: the payload for `r`, sealed under r's key when `sealed`. */
const stored = async (sealed: boolean, r: TokenRequest, jwt: string, generation = 0) => {
  const plaintext = encodePayload(r, jwt, generation)
  return sealed ? sealer.seal(plaintext, keysOf(PREFIX, r).token) : plaintext
}

/** A well-formed token for `r`: a 60 s lifetime, read back with `left` ms of it to go. */
const good = fc.record({
  request,
  sealed: fc.boolean(),
  iat: fc.integer({ min: 1_600_000_000, max: 2_000_000_000 }),
  lifetime: fc.integer({ min: 1, max: 86_400 }),
  withSid: fc.boolean(),
  leftShare: fc.double({ min: 0.001, max: 1, noNaN: true }),
})
const jwtFor = (g: GoodCase) =>
  jwtOf({ iat: g.iat, exp: g.iat + g.lifetime, ...(g.withSid ? { sid: g.request.sessionId } : {}) })
type GoodCase = {
  request: TokenRequest
  sealed: boolean
  iat: number
  lifetime: number
  withSid: boolean
  leftShare: number
}
const leftOf = (g: GoodCase) => Math.max(1, Math.floor(g.lifetime * 1000 * g.leftShare))

describe("stored values (codec.ts, crypto.ts and the share's get) on random input", () => {
  it("a well-formed token for the key is read back as it was written", async () => {
    await fc.assert(
      fc.asyncProperty(good, async (g) => {
        const jwt = jwtFor(g)
        const value = await stored(g.sealed, g.request, jwt)
        expect(await readBack(g, g.request, value, leftOf(g))).toBe(jwt)
      }),
      RUNS,
    )
  })

  it("any other value under the key is ignored, never thrown on", async () => {
    const noise = fc.oneof(
      garbageText,
      fc.anything().map((value) => JSON.stringify(value) ?? ""),
      fc
        .record({
          v: fc.anything(),
          jwt: fc.anything(),
          g: fc.anything(),
          sessionId: fc.anything(),
          template: fc.anything(),
          organizationId: fc.anything(),
        })
        .map((payload) => JSON.stringify(payload)),
    )
    await fc.assert(
      fc.asyncProperty(
        request,
        fc.boolean(),
        noise,
        fc.integer({ min: -2, max: 3_600_000 }),
        async (r, sealed, value, pttl) => {
          expect(await readBack({ sealed }, r, value, pttl)).toBeUndefined()
        },
      ),
      RUNS,
    )
  })

  it("a token that is not well formed for the key it is read under is ignored", async () => {
    const wrong = fc.oneof(
      fc.record({ kind: fc.constant("sid" as const), other: id }),
      fc.record({ kind: fc.constant("request" as const), other: request }),
      fc.record({ kind: fc.constant("session" as const), other: id }),
      fc.record({ kind: fc.constant("template" as const), other: optionalId }),
      fc.record({ kind: fc.constant("organization" as const), other: optionalId }),
      fc.record({
        kind: fc.constant("generation" as const),
        other: fc.integer({ min: 1, max: 9 }),
      }),
      fc.record({
        kind: fc.constant("outlives" as const),
        other: fc.integer({ min: 1, max: 1e9 }),
      }),
      fc.record({ kind: fc.constant("ttl" as const), other: fc.constantFrom(0, -1, -2) }),
      fc.record({ kind: fc.constant("notJwt" as const), other: fc.string({ maxLength: 80 }) }),
      fc.record({
        kind: fc.constant("badClaims" as const),
        other: fc.record({ iat: fc.anything(), exp: fc.anything() }, { requiredKeys: [] }),
      }),
      fc.record({ kind: fc.constant("otherKey" as const), other: fc.constant(null) }),
      fc.record({ kind: fc.constant("flip" as const), other: flip }),
      fc.record({ kind: fc.constant("cut" as const), other: fc.nat() }),
    )
    await fc.assert(
      fc.asyncProperty(good, wrong, async (g, w) => {
        const r = g.request
        let jwt = jwtFor(g)
        let writtenFor: TokenRequest = r
        let generation = 0
        let pttl = leftOf(g)
        switch (w.kind) {
          case "sid":
            fc.pre(w.other !== r.sessionId)
            jwt = jwtOf({ iat: g.iat, exp: g.iat + g.lifetime, sid: w.other })
            break
          case "request":
            fc.pre(
              w.other.sessionId !== r.sessionId ||
                w.other.template !== r.template ||
                w.other.organizationId !== r.organizationId,
            )
            writtenFor = w.other
            break
          case "session":
            fc.pre(w.other !== r.sessionId)
            writtenFor = { ...r, sessionId: w.other }
            break
          case "template":
            fc.pre(w.other !== r.template)
            writtenFor = { ...r, template: w.other }
            break
          case "organization":
            fc.pre(w.other !== r.organizationId)
            writtenFor = { ...r, organizationId: w.other }
            break
          case "generation":
            generation = w.other
            break
          case "outlives":
            pttl = g.lifetime * 1000 + w.other
            break
          case "ttl":
            pttl = w.other
            break
          case "notJwt":
            jwt = w.other
            break
          case "badClaims":
            jwt = jwtOf({ ...w.other, sid: r.sessionId })
            fc.pre(
              !(
                typeof w.other.iat === "number" &&
                typeof w.other.exp === "number" &&
                Number.isFinite(w.other.iat) &&
                Number.isFinite(w.other.exp) &&
                w.other.exp > w.other.iat
              ),
            )
            break
          default:
            break
        }
        // The payload names `writtenFor` and is sealed under the key it is read from.
        let value = encodePayload(writtenFor, jwt, generation)
        if (g.sealed) value = await sealer.seal(value, keysOf(PREFIX, r).token)
        if (w.kind === "otherKey") {
          value = await (g.sealed ? otherSealer : sealer).seal(
            encodePayload(r, jwt, 0),
            keysOf(PREFIX, r).token,
          )
          // Unsealed, a sealed value is no payload: ignored all the same.
        }
        if (w.kind === "flip" || w.kind === "cut") {
          fc.pre(g.sealed)
          value =
            w.kind === "flip"
              ? flipBit(value, w.other.part, w.other.at, w.other.bit)
              : value.slice(0, w.other % value.length)
        }
        expect(await readBack(g, r, value, pttl)).toBeUndefined()
      }),
      RUNS,
    )
  })

  it("a sealed token copied under another request's key is ignored", async () => {
    await fc.assert(
      fc.asyncProperty(good, request, async (g, other) => {
        const otherKeys = keysOf(PREFIX, other)
        fc.pre(otherKeys.token !== keysOf(PREFIX, g.request).token)
        // Sealed for `other` (its payload and its key), read under g's key.
        const value = await sealer.seal(encodePayload(g.request, jwtFor(g), 0), otherKeys.token)
        expect(await readBack({ sealed: true }, g.request, value, leftOf(g))).toBeUndefined()
      }),
      RUNS,
    )
  })
})

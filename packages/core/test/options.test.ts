/**
 * Bad options of every kind end in `InvalidOptionsError` — never a crash,
 * never a request — and good ones work (property-based, fast-check).
 */
import { describe, expect, it } from "vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import fc from "fast-check"
import { createTokenClient, fromFunction, InvalidOptionsError, TokenClient } from "@tok/core"
import { fakeJwt, makeFakeSource } from "@tok/core/testing"
import { runTest, withClient } from "./support.ts"

const dotty = fc.constantFrom("", ".", "..", "x".repeat(513))
const anything = fc.oneof(fc.anything(), dotty, fc.constantFrom(Number.NaN, Infinity, -Infinity))

const isId = (u: unknown) =>
  typeof u === "string" && u.length > 0 && u.length <= 512 && u !== "." && u !== ".."

/** Whether `getToken`/`watch` options are usable, as DESIGN §1 and §2.7 say. */
const validCall = (o: Record<string, unknown>) =>
  (o.template === undefined || isId(o.template)) &&
  (o.organizationId === undefined ||
    (typeof o.organizationId === "string" && o.organizationId.length <= 512)) &&
  (o.expirationBuffer === undefined ||
    (typeof o.expirationBuffer === "number" && Number.isFinite(o.expirationBuffer))) &&
  (o.skipCache === undefined || typeof o.skipCache === "boolean") &&
  (o.sessionId === undefined || isId(o.sessionId))

const callOptions = fc.record(
  {
    template: fc.oneof(fc.string({ maxLength: 8 }), anything),
    organizationId: fc.oneof(fc.string({ maxLength: 8 }), anything),
    expirationBuffer: fc.oneof(fc.double(), anything),
    skipCache: fc.oneof(fc.boolean(), anything),
    sessionId: fc.oneof(fc.string({ maxLength: 8 }), anything),
  },
  { requiredKeys: [] },
)

describe("per-call options", () => {
  it("getToken: invalid options fail with InvalidOptionsError before any request; valid ones answer", async () => {
    await fc.assert(
      fc.asyncProperty(callOptions, async (options) => {
        const source = makeFakeSource()
        const exit = await runTest(
          withClient(source, (tok) =>
            Effect.gen(function* () {
              yield* tok.setSession("sess_1")
              return yield* Effect.exit(tok.getToken(options as TokenClient.GetTokenOptions))
            }),
          ),
        )
        if (validCall(options)) {
          expect(Exit.isSuccess(exit)).toBe(true)
        } else {
          expect(exit).toEqual(Exit.fail(expect.any(InvalidOptionsError)))
          expect(source.requests).toHaveLength(0)
        }
      }),
      { numRuns: 300 },
    )
  })

  it.each([
    ["a string", "firebase"],
    ["a number", 42],
    ["an array", [{ template: "x" }]],
    ["a function", () => undefined],
  ])("getToken options that are %s are InvalidOptionsError", async (_name, options) => {
    const exit = await runTest(
      withClient(makeFakeSource(), (tok) =>
        Effect.exit(tok.getToken(options as TokenClient.GetTokenOptions)),
      ),
    )
    expect(exit).toEqual(Exit.fail(expect.any(InvalidOptionsError)))
  })

  it("Promise getToken and watch: invalid options reject / show an error state; never throw", async () => {
    const tok = createTokenClient({
      source: fromFunction(async () => {
        const iat = Math.floor(Date.now() / 1000)
        return fakeJwt({ iat, exp: iat + 60 })
      }),
      session: "sess_1",
    })
    try {
      await fc.assert(
        fc.asyncProperty(callOptions, async (options) => {
          const result = await tok.getToken(options as never).then(
            (token) => ({ token }),
            (error: unknown) => ({ error }),
          )
          const state = tok.watch(options as never).getSnapshot()
          if (validCall(options)) {
            expect(result).toMatchObject({ token: { sessionId: expect.any(String) } })
            expect(state.status).not.toBe("error")
          } else {
            expect(result).toEqual({ error: expect.any(InvalidOptionsError) })
            expect(state).toMatchObject({ status: "error", error: expect.any(InvalidOptionsError) })
          }
        }),
        { numRuns: 200 },
      )
    } finally {
      await tok.dispose()
    }
  })

  it("Effect watch: invalid options fail with InvalidOptionsError", async () => {
    await fc.assert(
      fc.asyncProperty(callOptions, async (options) => {
        const exit = await runTest(
          withClient(makeFakeSource(), (tok) =>
            Effect.exit(tok.watch(options as TokenClient.WatchOptions)),
          ),
        )
        expect(Exit.isSuccess(exit)).toBe(validCall(options))
      }),
    )
  })
})

/** Whether a client config is usable (DESIGN §4). */
const validConfig = (c: Record<string, unknown>) => {
  const finite = (u: unknown) => typeof u === "number" && Number.isFinite(u)
  const retry = c.retry as Record<string, unknown> | undefined
  const retryOk =
    retry === undefined ||
    (typeof retry === "object" &&
      retry !== null &&
      !Array.isArray(retry) &&
      (() => {
        const attempts = retry.attempts ?? 4
        const base = retry.baseDelay ?? 250
        const max = retry.maxDelay ?? 8000
        return (
          Number.isInteger(attempts) &&
          (attempts as number) >= 1 &&
          (attempts as number) <= 100 &&
          finite(base) &&
          (base as number) >= 0 &&
          finite(max) &&
          (max as number) >= (base as number)
        )
      })())
  return (
    (c.expirationBuffer === undefined || finite(c.expirationBuffer)) &&
    retryOk &&
    (c.requestTimeout === undefined ||
      (finite(c.requestTimeout) && (c.requestTimeout as number) > 0)) &&
    (c.maxEntries === undefined ||
      (Number.isInteger(c.maxEntries) && (c.maxEntries as number) >= 1)) &&
    (c.autoRefresh === undefined || typeof c.autoRefresh === "boolean") &&
    (c.refreshJitter === undefined || (finite(c.refreshJitter) && (c.refreshJitter as number) >= 0))
  )
}

const config = fc.record(
  {
    expirationBuffer: fc.oneof(fc.double(), anything),
    retry: fc.oneof(
      fc.record(
        {
          attempts: fc.oneof(fc.integer({ min: -2, max: 120 }), anything),
          baseDelay: fc.oneof(fc.integer({ min: -10, max: 10_000 }), anything),
          maxDelay: fc.oneof(fc.integer({ min: -10, max: 20_000 }), anything),
        },
        { requiredKeys: [] },
      ),
      anything,
    ),
    requestTimeout: fc.oneof(fc.integer({ min: -1, max: 20_000 }), anything),
    maxEntries: fc.oneof(fc.integer({ min: -1, max: 5000 }), fc.double(), anything),
    autoRefresh: fc.oneof(fc.boolean(), anything),
    refreshJitter: fc.oneof(fc.integer({ min: -1, max: 5000 }), anything),
  },
  { requiredKeys: [] },
)

describe("client-wide options", () => {
  it("TokenClient.layer fails with InvalidOptionsError exactly when the config is bad", async () => {
    await fc.assert(
      fc.asyncProperty(config, async (c) => {
        const layer = TokenClient.layer(c as TokenClient.Config).pipe(
          Layer.provide(makeFakeSource().layer),
        )
        const exit = await runTest(Effect.exit(Effect.scoped(Layer.build(layer))))
        if (validConfig(c)) expect(Exit.isSuccess(exit)).toBe(true)
        else expect(exit).toEqual(Exit.fail(expect.any(InvalidOptionsError)))
      }),
      { numRuns: 300 },
    )
  })

  it("createTokenClient throws InvalidOptionsError exactly when the config is bad", async () => {
    await fc.assert(
      fc.asyncProperty(config, async (c) => {
        let thrown: unknown
        try {
          const tok = createTokenClient({ ...(c as object), source: makeFakeSource().layer })
          await tok.dispose()
        } catch (error) {
          thrown = error
        }
        if (validConfig(c)) expect(thrown).toBeUndefined()
        else expect(thrown).toBeInstanceOf(InvalidOptionsError)
      }),
      { numRuns: 300 },
    )
  })

  it.each([["a string"], [42], [[]], [null], [{ maxEntries: null }], [{ requestTimeout: null }]])(
    "a config of %j is InvalidOptionsError",
    async (c) => {
      const layer = TokenClient.layer(c as TokenClient.Config).pipe(
        Layer.provide(makeFakeSource().layer),
      )
      const exit = await runTest(Effect.exit(Effect.scoped(Layer.build(layer))))
      expect(exit).toEqual(Exit.fail(expect.any(InvalidOptionsError)))
    },
  )
})

import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Token } from "@tok/core"
import { fakeJwt } from "@tok/core/testing"

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const jwt = (payload: unknown) => `${b64url({ alg: "RS256" })}.${b64url(payload)}.sig`

describe("Token.decodeClaims", () => {
  it("decodes a payload with numeric iat and exp", () => {
    const claims = Token.decodeClaims(jwt({ iat: 100, exp: 160, sub: "user_1" }))
    expect(claims).toEqual({ iat: 100, exp: 160, sub: "user_1" })
  })

  it("decodes UTF-8 claims", () => {
    const claims = Token.decodeClaims(jwt({ iat: 1, exp: 2, name: "Zoë 東京 🎟" }))
    expect(claims).toMatchObject({ name: "Zoë 東京 🎟" })
  })

  it("decodes the unsigned JWTs of fakeJwt", () => {
    expect(Token.decodeClaims(fakeJwt({ iat: 1, exp: 2 }))).toEqual({ iat: 1, exp: 2 })
  })

  it("rejects a JWT without exp, and never echoes the JWT", () => {
    const token = jwt({ iat: 100 })
    const result = Token.decodeClaims(token)
    expect(Token.isDecodeFailure(result)).toBe(true)
    expect(JSON.stringify(result)).not.toContain(token.split(".")[1])
  })

  it.each([
    ["not a string", 42],
    ["null", null],
    ["an empty string", ""],
    ["two segments", "a.b"],
    ["four segments", "a.b.c.d"],
    ["bad base64url", "a.!!!.c"],
    ["base64url with whitespace", `a.${b64url({ iat: 1, exp: 2 }).replace(/^(.{4})/, "$1 ")}.c`],
    [
      "standard base64 characters",
      `a.${b64url({ iat: 1, exp: 2, s: "???>>>" }).replace(/_/g, "/")}.c`,
    ],
    ["base64 with padding", `a.${Buffer.from('{"iat":1,"exp":2}').toString("base64")}=.c`],
    ["an empty payload", "a..c"],
    ["not JSON", `a.${Buffer.from("nope").toString("base64url")}.c`],
    ["invalid UTF-8", `a.${Buffer.from([0xff, 0xfe, 0x7b]).toString("base64url")}.c`],
    ["an array payload", jwt([1, 2])],
    ["a null payload", jwt(null)],
    ["a number payload", jwt(7)],
    ["no iat", jwt({ exp: 100 })],
    ["exp before iat", jwt({ iat: 160, exp: 100 })],
    ["exp equal to iat", jwt({ iat: 160, exp: 160 })],
    ["string exp", jwt({ iat: 100, exp: "160" })],
    ["string iat", jwt({ iat: "100", exp: 160 })],
    ["a JWT longer than 64 KiB", jwt({ iat: 1, exp: 2, pad: "x".repeat(70_000) })],
  ])("rejects %s", (_name, input) => {
    const result = Token.decodeClaims(input)
    expect(Token.isDecodeFailure(result)).toBe(true)
    expect((result as Token.DecodeFailure).detail).toEqual(expect.any(String))
  })

  it("never throws, and never accepts a payload without numeric iat < exp (any string)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (input) => {
        const result = Token.decodeClaims(input)
        if (!Token.isDecodeFailure(result)) {
          expect(result.exp).toBeGreaterThan(result.iat)
        }
      }),
    )
  })

  it("never throws on any JSON payload, and accepts exactly the ones with finite iat < exp", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue(),
          fc.record({ iat: fc.jsonValue(), exp: fc.jsonValue() }),
          fc.record({ iat: fc.double(), exp: fc.double() }),
        ),
        (payload) => {
          const result = Token.decodeClaims(jwt(payload))
          const p = payload as { iat?: unknown; exp?: unknown } | null
          const valid =
            typeof p === "object" &&
            p !== null &&
            !Array.isArray(p) &&
            typeof p.iat === "number" &&
            typeof p.exp === "number" &&
            Number.isFinite(p.iat) &&
            Number.isFinite(p.exp) &&
            p.exp > p.iat
          expect(Token.isDecodeFailure(result)).toBe(!valid)
        },
      ),
    )
  })
})

describe("Token.make", () => {
  it("§3 errors: a non-finite or overflowing lifetime is a decode failure, never an expiry of Infinity", () => {
    for (const [iat, exp] of [
      [0, 1e308],
      [-1e308, 1e308],
      [0, 1e13],
    ] as const) {
      const made = Token.make(fakeJwt({ iat, exp }), { sessionId: "sess_1" }, 0)
      expect(Token.isDecodeFailure(made)).toBe(true)
    }
    const fine = Token.make(fakeJwt({ iat: 0, exp: 3600 }), { sessionId: "sess_1" }, 0)
    expect(fine).toMatchObject({ expiresAt: 3_600_000 })
  })

  it("measures the lifetime on the local clock: received at t, expires at t + (exp − iat)", () => {
    // Issued by a server one hour ahead: only exp − iat counts.
    const made = Token.make(
      jwt({ iat: 10_000 + 3600, exp: 10_000 + 3660 }),
      { sessionId: "sess_1", template: "t", organizationId: "org_1" },
      5_000_000,
    )
    expect(made).toMatchObject({
      sessionId: "sess_1",
      template: "t",
      organizationId: "org_1",
      issuedAt: 5_000_000,
      expiresAt: 5_060_000,
      source: "network",
    })
    expect(Token.lifetimeMillis(made as Token.Token)).toBe(60_000)
  })

  it("isUsable is now + buffer < expiresAt", () => {
    const token = Token.make(jwt({ iat: 0, exp: 60 }), { sessionId: "s" }, 0) as Token.Token
    expect(Token.isUsable(token, 49_999, 10_000)).toBe(true)
    expect(Token.isUsable(token, 50_000, 10_000)).toBe(false)
  })

  it("passes a decode failure through", () => {
    expect(Token.isDecodeFailure(Token.make("nope", { sessionId: "s" }, 0))).toBe(true)
  })
})

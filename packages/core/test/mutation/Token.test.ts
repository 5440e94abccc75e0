/**
 * `Token` at its edges: the exact 64 KiB limit, `iat`/`exp` that JSON reads
 * as Infinity, the latest expiry a `Date` can hold, and what each decode
 * failure says. Found by the mutation run (issue 21).
 */
import { describe, expect, it } from "vitest"
import { Token } from "@tok/core"

const b64url = (text: string) => Buffer.from(text).toString("base64url")
const jwtOf = (payloadJson: string) => `${b64url('{"alg":"none"}')}.${b64url(payloadJson)}.sig`

/** A JWT of exactly `length` characters (its signature padded). */
const jwtOfLength = (length: number): string => {
  const jwt = jwtOf('{"iat":1,"exp":2}')
  return `${jwt}${"s".repeat(length - jwt.length)}`
}

describe("Token.decodeClaims at its edges", () => {
  it("a JWT of exactly 64 KiB is decoded; one character more is refused", () => {
    const exact = jwtOfLength(64 * 1024)
    expect(exact.length).toBe(64 * 1024)
    expect(Token.decodeClaims(exact)).toMatchObject({ iat: 1, exp: 2 })
    expect(Token.decodeClaims(`${exact}s`)).toEqual({ detail: "the JWT is longer than 64 KiB" })
  })

  it("iat or exp of 1e999 (Infinity to JSON.parse) is not numeric", () => {
    expect(Token.decodeClaims(jwtOf('{"iat":1e999,"exp":2e999}'))).toEqual({
      detail: "the JWT has no numeric iat claim",
    })
    expect(Token.decodeClaims(jwtOf('{"iat":1,"exp":1e999}'))).toEqual({
      detail: "the JWT has no numeric exp claim",
    })
    expect(Token.decodeClaims(jwtOf('{"iat":-1e999,"exp":1}'))).toEqual({
      detail: "the JWT has no numeric iat claim",
    })
  })

  it("each failure says what is wrong, and nothing of the JWT", () => {
    const cases: Array<[unknown, string]> = [
      [42, "the JWT is not a string"],
      ["a.b", "a JWT has 3 segments, this one has 2"],
      ["a.b.c.d", "a JWT has 3 segments, this one has 4"],
      ["a.!!!.c", "the JWT payload is not base64url-encoded UTF-8"],
      [jwtOf("nope"), "the JWT payload is not JSON"],
      [jwtOf("[1]"), "the JWT payload is not a JSON object"],
      [jwtOf("null"), "the JWT payload is not a JSON object"],
      [jwtOf('"s"'), "the JWT payload is not a JSON object"],
      [jwtOf('{"exp":2}'), "the JWT has no numeric iat claim"],
      [jwtOf('{"iat":1}'), "the JWT has no numeric exp claim"],
      [jwtOf('{"iat":2,"exp":2}'), "the JWT's exp is not after its iat"],
      [jwtOf('{"iat":3,"exp":2}'), "the JWT's exp is not after its iat"],
    ]
    for (const [input, detail] of cases) expect(Token.decodeClaims(input)).toEqual({ detail })
  })
})

describe("Token.make at its edges", () => {
  const request = { sessionId: "sess_1" }

  it("passes the decode failure through as it is", () => {
    expect(Token.make("a.b", request, 0)).toEqual({
      detail: "a JWT has 3 segments, this one has 2",
    })
    expect(Token.make(jwtOf('{"iat":2,"exp":1}'), request, 0)).toEqual({
      detail: "the JWT's exp is not after its iat",
    })
  })

  it("an expiry exactly at the latest Date is kept; one ms later is refused", () => {
    // received at 8.64e15 − 1000 ms with a 1 s lifetime: expires at 8.64e15 exactly.
    const last = Token.make(jwtOf('{"iat":0,"exp":1}'), request, 8.64e15 - 1000)
    expect(last).toMatchObject({ expiresAt: 8.64e15 })
    const past = Token.make(jwtOf('{"iat":0,"exp":1}'), request, 8.64e15 - 999)
    expect(past).toEqual({ detail: "the JWT's lifetime (exp − iat) is too long to be a date" })
  })

  it("a token keeps the claims, the JWT and the source it was made with", () => {
    const jwt = jwtOf('{"iat":10,"exp":70,"sub":"u"}')
    const made = Token.make(jwt, request, 1000, "peer") as Token.Token
    expect(made).toEqual({
      jwt,
      sessionId: "sess_1",
      template: undefined,
      organizationId: undefined,
      claims: { iat: 10, exp: 70, sub: "u" },
      issuedAt: 1000,
      expiresAt: 61_000,
      source: "peer",
    })
    expect(Token.isDecodeFailure(made)).toBe(false)
    expect(Token.isDecodeFailure({ detail: "x" })).toBe(true)
    expect(Token.isDecodeFailure({ iat: 1, exp: 2 })).toBe(false)
  })
})

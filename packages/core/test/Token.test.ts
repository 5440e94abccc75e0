import { describe, expect, it } from "vitest"
import { Token } from "@tok/core"

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const jwt = (payload: unknown) => `${b64url({ alg: "RS256" })}.${b64url(payload)}.sig`

describe("Token.decodeClaims", () => {
  it("decodes a payload with numeric iat and exp", () => {
    const claims = Token.decodeClaims(jwt({ iat: 100, exp: 160, sub: "user_1" }))
    expect(claims).toEqual({ iat: 100, exp: 160, sub: "user_1" })
  })

  it("rejects a JWT without exp, and never echoes the JWT", () => {
    const token = jwt({ iat: 100 })
    const result = Token.decodeClaims(token)
    expect(Token.isDecodeFailure(result)).toBe(true)
    expect(JSON.stringify(result)).not.toContain(token.split(".")[1])
  })

  it.each([
    ["not a string", 42],
    ["two segments", "a.b"],
    ["bad base64url", "a.!!!.c"],
    ["not JSON", `a.${Buffer.from("nope").toString("base64url")}.c`],
    ["an array payload", jwt([1, 2])],
    ["exp before iat", jwt({ iat: 160, exp: 100 })],
    ["string exp", jwt({ iat: 100, exp: "160" })],
  ])("rejects %s", (_name, input) => {
    expect(Token.isDecodeFailure(Token.decodeClaims(input))).toBe(true)
  })
})

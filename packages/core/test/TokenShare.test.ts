import { describe, expect, it } from "vitest"
import { TokenShare } from "@tok/core"
import { fakeJwt } from "@tok/core/testing"

const jwt = fakeJwt({ iat: 1000, exp: 1060, sid: "sess_1" })
const token = (overrides: Record<string, unknown> = {}) => ({
  _tag: "token",
  token: { request: { sessionId: "sess_1" }, jwt, expiresInMillis: 30_000, ...overrides },
})

describe("TokenShare.decodeMessage", () => {
  it("accepts a well-formed token for the key it claims", () => {
    expect(TokenShare.decodeMessage(token())).toEqual({
      _tag: "token",
      token: {
        request: { sessionId: "sess_1", template: undefined, organizationId: undefined },
        jwt,
        expiresInMillis: 30_000,
        from: undefined,
      },
    })
  })

  it.each([
    ["not an object", "token"],
    ["an unknown tag", { _tag: "hello" }],
    ["a JWT that does not decode", token({ jwt: "a.b.c" })],
    ["a JWT that is not a string", token({ jwt: 42 })],
    ["a JWT of another session (sid)", token({ request: { sessionId: "sess_2" } })],
    ["no session", token({ request: {} })],
    ["an empty template", token({ request: { sessionId: "sess_1", template: "" } })],
    ["a remaining life longer than exp − iat", token({ expiresInMillis: 60_001 })],
    ["no remaining life", token({ expiresInMillis: 0 })],
    ["a remaining life that is not a number", token({ expiresInMillis: "30000" })],
    ["an ended message without a session", { _tag: "ended" }],
    ["an invalidated message without a filter", { _tag: "invalidated" }],
    ["an invalidated filter with a number", { _tag: "invalidated", filter: { template: 1 } }],
  ])("ignores %s", (_, message) => {
    expect(TokenShare.decodeMessage(message)).toBeUndefined()
  })

  it("accepts session ends, switches and invalidations", () => {
    expect(TokenShare.decodeMessage({ _tag: "ended", sessionId: "sess_1" })).toEqual({
      _tag: "ended",
      sessionId: "sess_1",
    })
    expect(TokenShare.decodeMessage({ _tag: "switched", from: "a", to: "b" })).toEqual({
      _tag: "switched",
      from: "a",
      to: "b",
    })
    expect(
      TokenShare.decodeMessage({ _tag: "invalidated", filter: { template: "x" } }),
    ).toMatchObject({ _tag: "invalidated", filter: { template: "x" } })
  })
})

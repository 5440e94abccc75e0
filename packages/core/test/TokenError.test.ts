import { describe, expect, it } from "vitest"
import {
  InvalidOptionsError,
  isTokenError,
  MalformedTokenError,
  NotSignedInError,
  TemplateNotFoundError,
  TokenRequestError,
  TokenSourceError,
  TokenUnavailableError,
} from "@tok/core"

describe("TokenError", () => {
  const errors = [
    new NotSignedInError(),
    new NotSignedInError({ sessionId: "sess_1" }),
    new TemplateNotFoundError({ template: "firebase" }),
    new TokenRequestError({ status: 403 }),
    new TokenRequestError({ status: 422, code: "form_param_invalid" }),
    new TokenUnavailableError({ reason: "network", attempts: 1 }),
    new TokenUnavailableError({ reason: "timeout", attempts: 4 }),
    new TokenUnavailableError({ reason: "server", status: 503, attempts: 4 }),
    new TokenUnavailableError({
      reason: "rate-limited",
      status: 429,
      retryAfterMs: 9000,
      attempts: 1,
    }),
    new MalformedTokenError({ detail: "the JWT has no numeric exp claim" }),
    new InvalidOptionsError({ detail: "template must not be empty" }),
  ]

  it.each(errors.map((e) => [e._tag, e] as const))(
    "%s is a tagged Error with a message for people",
    (tag, error) => {
      expect(error).toBeInstanceOf(Error)
      expect(error._tag).toBe(tag)
      expect(error.name).toBe(tag)
      expect(isTokenError(error)).toBe(true)
      expect(String(error)).toBe(`${tag}: ${error.message}`)
      expect(JSON.parse(JSON.stringify(error))).toMatchObject({ _tag: tag, message: error.message })
    },
  )

  it("messages carry the fields that matter", () => {
    expect(new NotSignedInError({ sessionId: "sess_1" }).message).toContain("sess_1")
    expect(new TemplateNotFoundError({ template: "firebase" }).message).toContain('"firebase"')
    expect(new TokenRequestError({ status: 422, code: "x_y" }).message).toContain("422 (x_y)")
    const unavailable = new TokenUnavailableError({
      reason: "rate-limited",
      status: 429,
      retryAfterMs: 9000,
      attempts: 1,
    })
    expect(unavailable.message).toContain("HTTP 429")
    expect(unavailable.message).toContain("1 attempt;")
    expect(unavailable.message).toContain("9000 ms")
  })

  it("a long template name is clipped in the message", () => {
    const error = new TemplateNotFoundError({ template: "t".repeat(500) })
    expect(error.message.length).toBeLessThan(150)
    expect(error.template).toHaveLength(500)
  })

  it("isTokenError is false for anything else", () => {
    for (const value of [
      new Error("x"),
      new TokenSourceError({}),
      { _tag: "Other" },
      null,
      undefined,
      "NotSignedInError",
    ]) {
      expect(isTokenError(value)).toBe(false)
    }
  })
})

describe("TokenError messages", () => {
  it("each class says what happened, in words people read (the exact text is part of the API)", () => {
    expect(
      [
        new NotSignedInError(),
        new NotSignedInError({ sessionId: "sess_1" }),
        new TemplateNotFoundError({ template: "firebase" }),
        new TokenRequestError({ status: 403 }),
        new TokenRequestError({ status: 422, code: "form_param_invalid" }),
        new TokenUnavailableError({ reason: "network", attempts: 1 }),
        new TokenUnavailableError({ reason: "timeout", attempts: 4 }),
        new TokenUnavailableError({ reason: "server", status: 503, attempts: 4 }),
        new TokenUnavailableError({
          reason: "rate-limited",
          status: 429,
          retryAfterMs: 9000,
          attempts: 1,
        }),
        new MalformedTokenError({ detail: "the JWT has no numeric exp claim" }),
        new InvalidOptionsError({ detail: "template must not be empty" }),
      ].map((error) => error.message),
    ).toMatchInlineSnapshot(`
      [
        "No session is signed in: sign in before asking for a token",
        "Session sess_1 is not signed in (it has ended or was never started)",
        "The server has no JWT template named "firebase"",
        "The token request was refused with HTTP 403",
        "The token request was refused with HTTP 422 (form_param_invalid)",
        "Token unavailable: the token server could not be reached after 1 attempt",
        "Token unavailable: the token server did not answer in time after 4 attempts",
        "Token unavailable: the token server failed (HTTP 503) after 4 attempts",
        "Token unavailable: the token server is rate-limiting requests (HTTP 429) after 1 attempt; it asked to wait 9000 ms",
        "The token server's answer is not a usable token: the JWT has no numeric exp claim",
        "Invalid tok options: template must not be empty",
      ]
    `)
  })
})

/**
 * The fault matrix of the integration suite (DESIGN §2.5, §3, "Decisions on
 * the edges"), written once and run through each {@link Face}: every fault the
 * dev server can inject ends in the typed error or the successful retry the
 * design calls for, with the number of requests read from `/__tok/stats`.
 */
import { decodeJwt } from "jose"
import { describe, expect, it } from "vitest"
import {
  InvalidOptionsError,
  MalformedTokenError,
  NotSignedInError,
  TemplateNotFoundError,
  type Token,
  TokenRequestError,
  TokenUnavailableError,
} from "@tok/core"
import { defaultTemplates, type DevServer, type MalformedBody } from "@tok/dev-server"
import {
  expectNoSecretInErrors,
  type Face,
  failure,
  must,
  retry,
  seenSecrets,
  startServer,
  stats,
  tokenRequests,
  untilTokenRequests,
  verify,
} from "./support.ts"

const USER = "user_integration"

/** A server with one signed-in session. */
const setup = async () => {
  const server = await startServer()
  const { id } = server.signIn(USER)
  return { server, sessionId: id }
}

/** Checks a token end to end: `jose` verifies it with the server's JWKS, and tok read its lifetime right. */
const expectVerified = async (
  server: DevServer,
  token: Token.Token,
  sessionId: string,
  options: { readonly audience?: string; readonly at?: number } = {},
) => {
  const { payload, protectedHeader } = await verify(server, token.jwt, options)
  expect(protectedHeader.alg).toBe("RS256")
  expect(payload).toMatchObject({ sid: sessionId, sub: USER, iss: server.url })
  expect(token.claims).toEqual(payload)
  expect(token.sessionId).toBe(sessionId)
  expect(token.expiresAt - token.issuedAt).toBe((payload.exp! - payload.iat!) * 1000)
  return payload
}

/** The routes counted, without the JWKS fetches of `jose` verifying tokens. */
const routesBesidesJwks = (routes: Readonly<Record<string, number>>) =>
  Object.fromEntries(
    Object.entries(routes).filter(([route]) => route !== "GET /.well-known/jwks.json"),
  )

/** Runs the whole matrix through one face. */
export const faultMatrix = (face: Face): void => {
  describe(`${face.name} against the dev server`, () => {
    describe("happy path", () => {
      it("a session token verifies against the JWKS, is fetched once, then served from the cache", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        const first = must(await client.getToken())
        expect(first.source).toBe("network")
        expect(first.template).toBeUndefined()
        const payload = await expectVerified(server, first, sessionId)
        expect(payload.exp! - payload.iat!).toBe(server.tokenLifetime)
        expect(payload.org_id).toBeUndefined()
        expect(first.expiresAt - first.issuedAt).toBe(server.tokenLifetime * 1000)

        const second = must(await client.getToken())
        expect(second.source).toBe("cache")
        expect(second.jwt).toBe(first.jwt)
        const counted = await stats(server)
        expect(counted.tokenRequests).toBe(1)
        expect(counted.tokensIssued).toBe(1)
        expect(routesBesidesJwks(counted.routes)).toEqual({ [face.route]: 1 })
        expect(counted.sessions).toEqual({ [sessionId]: { tokenRequests: 1, tokensIssued: 1 } })
      })

      it("skipCache makes a second request, and its token is cached for the next plain call", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        const first = must(await client.getToken())
        const fresh = must(await client.getToken({ skipCache: true }))
        expect(fresh.source).toBe("network")
        expect(fresh.jwt).not.toBe(first.jwt)
        await expectVerified(server, fresh, sessionId)
        expect(await tokenRequests(server)).toBe(2)
        const again = must(await client.getToken())
        expect(again.jwt).toBe(fresh.jwt)
        expect(again.source).toBe("cache")
        expect(await tokenRequests(server)).toBe(2)
      })

      it.each(Object.keys(defaultTemplates))(
        "the %s template verifies with its claims, once, then from the cache",
        async (template) => {
          const { server, sessionId } = await setup()
          const client = face.open(server, sessionId)
          const token = must(await client.getToken({ template }))
          expect(token.template).toBe(template)
          // `hasura` has no audience: it is verified without one.
          const audience = defaultTemplates[template]!.audience as string | undefined
          const payload = await expectVerified(
            server,
            token,
            sessionId,
            audience === undefined ? {} : { audience },
          )
          expect(payload.aud).toBe(audience)
          if (template === "supabase") expect(payload.role).toBe("authenticated")
          if (template === "firebase") expect(payload.uid).toBe(USER)
          if (template === "hasura") {
            expect(payload["https://hasura.io/jwt/claims"]).toEqual({
              "x-hasura-user-id": USER,
              "x-hasura-default-role": "user",
              "x-hasura-allowed-roles": ["user"],
            })
          }
          const cached = must(await client.getToken({ template }))
          expect(cached).toMatchObject({ jwt: token.jwt, source: "cache" })
          const counted = await stats(server)
          expect(counted.tokenRequests).toBe(1)
          expect(routesBesidesJwks(counted.routes)).toEqual({ [face.templateRoute]: 1 })
        },
      )

      it("organizationId is sent and comes back as org_id; each organization is its own cache key", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        const org = must(await client.getToken({ organizationId: "org_1" }))
        expect(org.organizationId).toBe("org_1")
        const payload = await expectVerified(server, org, sessionId)
        expect(payload.org_id).toBe("org_1")
        const hasura = must(await client.getToken({ template: "hasura", organizationId: "org_1" }))
        expect(decodeJwt(hasura.jwt)["https://hasura.io/jwt/claims"]).toMatchObject({
          "x-hasura-org-id": "org_1",
        })
        const other = must(await client.getToken({ organizationId: "org_2" }))
        expect(other.claims.org_id).toBe("org_2")
        expect(must(await client.getToken({ organizationId: "org_1" })).jwt).toBe(org.jwt)
        const none = must(await client.getToken({ organizationId: "" }))
        expect(none.claims.org_id).toBeUndefined()
        expect(await tokenRequests(server)).toBe(4)
      })

      it("1,000 concurrent calls make exactly 1 request and all get its token", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        const tokens = await Promise.all(
          Array.from({ length: 1_000 }, () => client.getToken({ template: "supabase" })),
        )
        const jwts = new Set(tokens.map((token) => must(token).jwt))
        expect(jwts.size).toBe(1)
        expect(tokens.every((token) => token?.source === "network")).toBe(true)
        expect(await tokenRequests(server)).toBe(1)
        await expectVerified(server, must(tokens[0]!), sessionId, { audience: "authenticated" })
      })
    })

    describe("transient failures are retried (DESIGN §2.5)", () => {
      it.each([503, 500])(
        "%i for fewer requests than the attempts: a token after N + 1 requests",
        async (status) => {
          const { server, sessionId } = await setup()
          const client = face.open(server, sessionId)
          server.setFaults({ fail: { status, count: retry.attempts - 1 } })
          const token = must(await client.getToken())
          await expectVerified(server, token, sessionId)
          expect(await tokenRequests(server)).toBe(retry.attempts)
          expect((await stats(server)).faults.failed).toBe(retry.attempts - 1)
        },
      )

      it.each([503, 500])(
        "%i for as many requests as the attempts: TokenUnavailableError after exactly that many, and nothing is cached",
        async (status) => {
          const { server, sessionId } = await setup()
          const client = face.open(server, sessionId)
          server.setFaults({ fail: { status, count: retry.attempts } })
          const error = await failure(client.getToken())
          expect(error).toBeInstanceOf(TokenUnavailableError)
          expect(error).toMatchObject({
            _tag: "TokenUnavailableError",
            reason: "server",
            status,
            attempts: retry.attempts,
          })
          expect(await tokenRequests(server)).toBe(retry.attempts)
          // The fault is used up: the next call starts afresh and gets a token.
          must(await client.getToken())
          expect(await tokenRequests(server)).toBe(retry.attempts + 1)
        },
      )

      it("100 concurrent callers share one outcome, retries included: one error, `attempts` requests", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        server.setFaults({ fail: { status: 503, count: retry.attempts } })
        const errors = await Promise.all(
          Array.from({ length: 100 }, () => failure(client.getToken())),
        )
        expect(new Set(errors).size).toBe(1)
        expect(errors[0]).toMatchObject({ reason: "server", attempts: retry.attempts })
        expect(await tokenRequests(server)).toBe(retry.attempts)
      })

      it("a failed skipCache request leaves a valid cached token in place, still served", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        const cached = must(await client.getToken())
        server.setFaults({ fail: { status: 503, count: retry.attempts } })
        expect(await failure(client.getToken({ skipCache: true }))).toBeInstanceOf(
          TokenUnavailableError,
        )
        server.setFaults({ malformed: { count: 1, body: "not-a-jwt" } })
        expect(await failure(client.getToken({ skipCache: true }))).toBeInstanceOf(
          MalformedTokenError,
        )
        expect(await tokenRequests(server)).toBe(1 + retry.attempts + 1)
        expect(must(await client.getToken())).toMatchObject({ jwt: cached.jwt, source: "cache" })
        expect(await tokenRequests(server)).toBe(1 + retry.attempts + 1)
      })

      it("a failure window (failFor) outlasting the retries: TokenUnavailableError after exactly `attempts` requests", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        server.setFaults({ failFor: { ms: 60_000, status: 502 } })
        const error = await failure(client.getToken())
        expect(error).toMatchObject({
          _tag: "TokenUnavailableError",
          reason: "server",
          status: 502,
          attempts: retry.attempts,
        })
        expect(await tokenRequests(server)).toBe(retry.attempts)
      })

      it("408 counts as a timeout: retried, and reason timeout once the attempts are spent", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        server.setFaults({ fail: { status: 408, count: 1 } })
        must(await client.getToken())
        expect(await tokenRequests(server)).toBe(2)
        server.setFaults({ fail: { status: 408, count: retry.attempts } })
        const error = await failure(client.getToken({ skipCache: true }))
        expect(error).toMatchObject({ reason: "timeout", status: 408, attempts: retry.attempts })
        expect(await tokenRequests(server)).toBe(2 + retry.attempts)
      })

      it("a dropped connection is a network failure: retried, then a token", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        server.setFaults({ drop: 1 })
        const token = must(await client.getToken())
        await expectVerified(server, token, sessionId)
        expect(await tokenRequests(server)).toBe(2)
        expect((await stats(server)).faults.dropped).toBe(1)
      })

      it("connections dropped on every attempt: TokenUnavailableError { reason: network } after `attempts` requests", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        server.setFaults({ drop: retry.attempts })
        const error = await failure(client.getToken())
        expect(error).toBeInstanceOf(TokenUnavailableError)
        expect(error).toMatchObject({ reason: "network", attempts: retry.attempts })
        expect((error as TokenUnavailableError).status).toBeUndefined()
        expect(await tokenRequests(server)).toBe(retry.attempts)
      })

      it("an answer slower than requestTimeout times out and is retried; the retry gets a token", async () => {
        const { server, sessionId } = await setup()
        // The latency must be lifted before the retry arrives, one
        // requestTimeout after the first: 1 s leaves room on a busy machine.
        const client = face.open(server, sessionId, { retry, requestTimeout: 1_000 })
        server.setFaults({ latencyMs: 5_000 })
        const started = Date.now()
        const pending = client.getToken()
        // Only the first request is slow: lift the latency once it has arrived.
        await untilTokenRequests(server, 1)
        server.setFaults({ latencyMs: 0 })
        const token = must(await pending)
        // About requestTimeout and a retry; waiting out the slow answer takes 5 s.
        expect(Date.now() - started).toBeLessThan(3_000)
        await expectVerified(server, token, sessionId)
        expect(await tokenRequests(server)).toBe(2)
      })

      it("latency that persists past requestTimeout: TokenUnavailableError { reason: timeout } after `attempts` requests", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId, { retry, requestTimeout: 300 })
        server.setFaults({ latencyMs: 1_500 })
        const started = Date.now()
        const error = await failure(client.getToken())
        const elapsed = Date.now() - started
        expect(error).toBeInstanceOf(TokenUnavailableError)
        expect(error).toMatchObject({ reason: "timeout", attempts: retry.attempts })
        expect((error as TokenUnavailableError).status).toBeUndefined()
        expect(elapsed).toBeGreaterThanOrEqual(retry.attempts * 300 - 10)
        expect(elapsed).toBeLessThan(1_500 * retry.attempts)
        expect(await tokenRequests(server)).toBe(retry.attempts)
      })
    })

    describe("rate limits: 429 and Retry-After", () => {
      it("a Retry-After within maxDelay is waited for (at least), then retried", async () => {
        const { server, sessionId } = await setup()
        // Retry-After is whole seconds: the cap must allow 1 s.
        const client = face.open(server, sessionId, {
          retry: { attempts: 3, baseDelay: 20, maxDelay: 1_500 },
        })
        server.setFaults({ fail: { status: 429, count: 1, retryAfterSeconds: 1 } })
        const started = Date.now()
        const token = must(await client.getToken())
        expect(Date.now() - started).toBeGreaterThanOrEqual(1_000)
        await expectVerified(server, token, sessionId)
        expect(await tokenRequests(server)).toBe(2)
      })

      it("a Retry-After longer than maxDelay fails at once: rate-limited, with retryAfterMs, after 1 request", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        server.setFaults({ fail: { status: 429, count: 1, retryAfterSeconds: 1 } })
        const started = Date.now()
        const error = await failure(client.getToken())
        expect(Date.now() - started).toBeLessThan(1_000)
        expect(error).toBeInstanceOf(TokenUnavailableError)
        expect(error).toMatchObject({
          reason: "rate-limited",
          status: 429,
          retryAfterMs: 1_000,
          attempts: 1,
        })
        expect(await tokenRequests(server)).toBe(1)
        // Nothing was cached and the fault is spent: the next call asks again.
        must(await client.getToken())
        expect(await tokenRequests(server)).toBe(2)
      })

      it("a 503 whose Retry-After is longer than maxDelay is not waited for: it fails at once, after 1 request", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        server.setFaults({ fail: { status: 503, count: 1, retryAfterSeconds: 1 } })
        const started = Date.now()
        const error = await failure(client.getToken())
        expect(Date.now() - started).toBeLessThan(1_000)
        expect(error).toMatchObject({
          _tag: "TokenUnavailableError",
          reason: "server",
          status: 503,
          retryAfterMs: 1_000,
          attempts: 1,
        })
        expect(await tokenRequests(server)).toBe(1)
      })

      it("429 on every attempt with Retry-After: 0: rate-limited after `attempts` requests", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        server.setFaults({ fail: { status: 429, count: retry.attempts, retryAfterSeconds: 0 } })
        const error = await failure(client.getToken())
        expect(error).toMatchObject({
          reason: "rate-limited",
          status: 429,
          retryAfterMs: 0,
          attempts: retry.attempts,
        })
        expect(await tokenRequests(server)).toBe(retry.attempts)
      })
    })

    describe("permanent failures are not retried", () => {
      it.each<MalformedBody>(["html", "empty-object", "invalid-json", "not-a-jwt"])(
        "a malformed %s body: MalformedTokenError after 1 request, nothing cached",
        async (body) => {
          const { server, sessionId } = await setup()
          const client = face.open(server, sessionId)
          server.setFaults({ malformed: { count: 1, body } })
          const error = await failure(client.getToken())
          expect(error).toBeInstanceOf(MalformedTokenError)
          expect((error as MalformedTokenError).detail).toEqual(expect.any(String))
          expect(await tokenRequests(server)).toBe(1)
          expect((await stats(server)).faults.malformed).toBe(1)
          const token = must(await client.getToken())
          expect(token.source).toBe("network")
          await expectVerified(server, token, sessionId)
          expect(await tokenRequests(server)).toBe(2)
        },
      )

      it("a token without exp: MalformedTokenError after 1 request, nothing cached", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        server.setFaults({ noExp: 1 })
        const error = await failure(client.getToken({ template: "supabase" }))
        expect(error).toBeInstanceOf(MalformedTokenError)
        expect((error as MalformedTokenError).detail).toMatch(/exp/)
        expect(await tokenRequests(server)).toBe(1)
        expect((await stats(server)).faults.noExp).toBe(1)
        must(await client.getToken({ template: "supabase" }))
        expect(await tokenRequests(server)).toBe(2)
      })

      it("an unknown template: TemplateNotFoundError after 1 request", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        const error = await failure(client.getToken({ template: "no-such-template" }))
        expect(error).toBeInstanceOf(TemplateNotFoundError)
        expect(error).toMatchObject({ template: "no-such-template" })
        expect(await tokenRequests(server)).toBe(1)
        // The session is untouched.
        must(await client.getToken())
        expect(client.session()).toBe(face.kind === "promise" ? sessionId : undefined)
      })

      it.each([400, 403, 404, 422])(
        "%i (404 without a template): TokenRequestError with status and code, after 1 request",
        async (status) => {
          const { server, sessionId } = await setup()
          const client = face.open(server, sessionId)
          server.setFaults({ fail: { status, count: retry.attempts } })
          const error = await failure(client.getToken())
          expect(error).toBeInstanceOf(TokenRequestError)
          expect(error).toMatchObject({ status, code: "injected_fault" })
          expect(await tokenRequests(server)).toBe(1)
        },
      )
    })

    describe("the session ends on the server (401)", () => {
      it("signs the client out, drops its cached tokens, and is not retried", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        must(await client.getToken({ template: "firebase" })) // cached now
        expect(server.signOut(sessionId)?.status).toBe("ended")

        const ended = client.getToken({ skipCache: true })
        if (face.kind === "promise") {
          expect(await ended).toBeNull()
          expect(client.session()).toBeNull()
          expect(await tokenRequests(server)).toBe(2)
          // Signed out: null at once, without a request, even for the key that was cached.
          expect(await client.getToken({ template: "firebase" })).toBeNull()
          expect(await tokenRequests(server)).toBe(2)
        } else {
          const error = await failure(ended)
          expect(error).toBeInstanceOf(NotSignedInError)
          expect(error).toMatchObject({ sessionId })
          expect(await tokenRequests(server)).toBe(2)
          // The ended session's cached token is not served: the server is asked, and says 401 again.
          const again = await failure(client.getToken({ template: "firebase" }))
          expect(again).toBeInstanceOf(NotSignedInError)
          expect(await tokenRequests(server)).toBe(3)
        }
        expect((await stats(server)).sessions[sessionId]).toEqual({
          tokenRequests: face.kind === "promise" ? 2 : 3,
          tokensIssued: 1,
        })
      })

      it("a session the server never had: signed out after 1 request", async () => {
        const server = await startServer()
        const client = face.open(server, "sess_unknown")
        const outcome = client.getToken()
        if (face.kind === "promise") {
          expect(await outcome).toBeNull()
          expect(client.session()).toBeNull()
        } else {
          expect(await failure(outcome)).toBeInstanceOf(NotSignedInError)
        }
        expect(await tokenRequests(server)).toBe(1)
      })
    })

    describe("nothing leaks (DESIGN §2.7)", () => {
      it.each(["../x", "../../../v1/client/sessions", "a/b", "x?y=1#z", "%2e%2e", "sp ace"])(
        "a template named %s is URL-encoded: one segment of the template route, never another endpoint",
        async (template) => {
          const { server, sessionId } = await setup()
          const client = face.open(server, sessionId)
          const error = await failure(client.getToken({ template }))
          expect(error).toBeInstanceOf(TemplateNotFoundError)
          expect(error).toMatchObject({ template })
          const counted = await stats(server)
          expect(counted.routes).toEqual({ [face.templateRoute]: 1 })
          expect(counted.tokenRequests).toBe(1)
          expect(counted.tokensIssued).toBe(0)
        },
      )

      it.each(["..", "."])(
        "a template named %s is InvalidOptionsError, with no request",
        async (template) => {
          const { server, sessionId } = await setup()
          const client = face.open(server, sessionId)
          const error = await failure(client.getToken({ template }))
          expect(error).toBeInstanceOf(InvalidOptionsError)
          expect((await stats(server)).requests).toBe(0)
        },
      )

      it("a skewed server clock (±1 h): tokens are usable, cached, and live exactly the server's lifetime", async () => {
        const { server, sessionId } = await setup()
        const client = face.open(server, sessionId)
        for (const skew of [3_600, -3_600]) {
          server.setFaults({ clockSkewSeconds: skew })
          const before = Date.now()
          const token = must(await client.getToken({ template: "supabase", skipCache: true }))
          const serverNow = Math.floor(before / 1000) + skew
          expect(Math.abs(token.claims.iat - serverNow)).toBeLessThanOrEqual(2)
          await expectVerified(server, token, sessionId, {
            audience: "authenticated",
            at: token.claims.iat,
          })
          expect(token.expiresAt - token.issuedAt).toBe(server.tokenLifetime * 1000)
          expect(token.issuedAt).toBeGreaterThanOrEqual(before)
          expect(token.issuedAt).toBeLessThanOrEqual(Date.now())
          const cached = must(await client.getToken({ template: "supabase" }))
          expect(cached).toMatchObject({ jwt: token.jwt, source: "cache" })
        }
        expect(await tokenRequests(server)).toBe(2)
      })
    })
  })
}

/**
 * The backend source only: the secret key. The dev server answers a wrong key
 * with 401 (`clerk_key_invalid`), as Clerk does, and DESIGN §2.5 reads every
 * 401 as "the session has ended".
 */
export const secretKeyCases = (face: Face): void => {
  describe(`${face.name}: the secret key`, () => {
    it("a wrong secret key is a 401 clerk_key_invalid: a TokenRequestError that signs nobody out, after 1 request", async () => {
      const { server, sessionId } = await setup()
      const wrong = "sk_test_not_the_server_secret_key"
      seenSecrets.add(wrong)
      const client = face.open(server, sessionId, {}, { secretKey: wrong })
      const error = await failure(client.getToken())
      expect(error).toBeInstanceOf(TokenRequestError)
      expect(error).toMatchObject({ status: 401, code: "clerk_key_invalid" })
      if (face.kind === "promise") expect(client.session()).toBe(sessionId)
      expect(await tokenRequests(server)).toBe(1)
      // The server kept the session: only the key was wrong.
      expect(server.session(sessionId)?.status).toBe("active")
    })
  })
}

/** The last test of a file: every error its cases saw is free of JWTs and secrets. */
export const errorsAreSafe = (): void => {
  describe("errors are safe (DESIGN §2.6)", () => {
    it("no error seen in this file shows a JWT, a JWT signature or a secret key", () => {
      expectNoSecretInErrors()
    })
  })
}

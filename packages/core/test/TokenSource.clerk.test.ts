/**
 * Working with a real Clerk app: publishable keys, development instances and
 * their dev-browser token, proxies — through `TokenSource.clerkFrontendApi`
 * (the Effect API) and `createTokenClient` (the Promise face).
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import {
  clerkFrontendApi,
  createTokenClient,
  InvalidOptionsError,
  parsePublishableKey,
  TokenRequestError,
  TokenSource,
  TokenSourceError,
} from "@tok/core"
import { fakeJwt } from "@tok/core/testing"

/** A publishable key for a Frontend API host, as Clerk builds them. */
const keyFor = (prefix: "pk_test_" | "pk_live_", frontendApi: string, pad = true) => {
  const encoded = Buffer.from(`${frontendApi}$`, "utf8").toString("base64")
  return `${prefix}${pad ? encoded : encoded.replace(/=+$/, "")}`
}

const DEV_KEY = keyFor("pk_test_", "foo-bar-13.clerk.accounts.dev")
const LIVE_KEY = keyFor("pk_live_", "clerk.example.com")

interface Call {
  readonly url: string
  readonly init: RequestInit
}

const jwt = fakeJwt({ iat: 0, exp: 60 })

/** A `fetch` that records its calls and answers with `respond` (a token by default). */
const fakeFetch = (
  respond: (call: Call) => Response = () => Response.json({ object: "token", jwt }),
) => {
  const calls: Array<Call> = []
  const fetch: TokenSource.FetchFn = async (url, init) => {
    const call = { url, init }
    calls.push(call)
    return respond(call)
  }
  return { calls, layer: Layer.succeed(TokenSource.Fetch, fetch) }
}

/** Fetches a token for `sess_1` through `source`, on `fetch`. */
const fetchWith = (
  source: Layer.Layer<TokenSource.TokenSource, InvalidOptionsError>,
  fetch: Layer.Layer<never>,
  request: TokenSource.TokenRequest = { sessionId: "sess_1" },
) =>
  Effect.gen(function* () {
    const tokens = yield* TokenSource.TokenSource
    return yield* tokens.fetch(request)
  }).pipe(Effect.provide(source.pipe(Layer.provide(fetch))))

/** The `InvalidOptionsError` that `f` throws; fails the test if it does not throw one. */
const invalid = (f: () => unknown): InvalidOptionsError => {
  try {
    f()
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionsError)
    return error as InvalidOptionsError
  }
  return expect.fail("expected an InvalidOptionsError")
}

/** The `InvalidOptionsError` a source layer of the Effect API fails with when built. */
const layerInvalid = (
  layer: Layer.Layer<TokenSource.TokenSource, InvalidOptionsError>,
): InvalidOptionsError => Effect.runSync(Effect.flip(Effect.scoped(Layer.build(layer))))

const dbJwtOf = (call: Call | undefined) => new URL(call!.url).searchParams.get("__clerk_db_jwt")

describe("parsePublishableKey", () => {
  it("a pk_test_ key is a development instance on the Frontend API host it holds", () => {
    expect(parsePublishableKey(DEV_KEY)).toEqual({
      instanceType: "development",
      frontendApi: "foo-bar-13.clerk.accounts.dev",
      frontendApiUrl: "https://foo-bar-13.clerk.accounts.dev",
    })
  })

  it("a pk_live_ key is a production instance, padded or not", () => {
    // Clerk's own example key: base64 of "clerk.clerk.dev$" without padding.
    expect(parsePublishableKey("pk_live_Y2xlcmsuY2xlcmsuZGV2JA")).toEqual({
      instanceType: "production",
      frontendApi: "clerk.clerk.dev",
      frontendApiUrl: "https://clerk.clerk.dev",
    })
    expect(parsePublishableKey("pk_live_Y2xlcmsuY2xlcmsuZGV2JA==").frontendApi).toBe(
      "clerk.clerk.dev",
    )
    expect(parsePublishableKey(LIVE_KEY).frontendApiUrl).toBe("https://clerk.example.com")
  })

  it("keeps a port and a path of the host", () => {
    expect(parsePublishableKey(keyFor("pk_live_", "clerk.example.com:8443")).frontendApiUrl).toBe(
      "https://clerk.example.com:8443",
    )
    expect(parsePublishableKey(keyFor("pk_live_", "example.com/__clerk/")).frontendApiUrl).toBe(
      "https://example.com/__clerk",
    )
    expect(parsePublishableKey(keyFor("pk_test_", "example.com:444/a/b")).frontendApiUrl).toBe(
      "https://example.com:444/a/b",
    )
  })

  it.each([
    ["localhost:3000", "http://localhost:3000"],
    ["127.0.0.1:41234", "http://127.0.0.1:41234"],
    ["127.8.9.10", "http://127.8.9.10"],
    ["[::1]:4000", "http://[::1]:4000"],
    ["app.localhost:5173/clerk", "http://app.localhost:5173/clerk"],
    ["127.example.com", "https://127.example.com"],
    ["localhost.example.com", "https://localhost.example.com"],
  ])("a loopback host gets http:, any other https: (%s)", (host, url) => {
    expect(parsePublishableKey(keyFor("pk_test_", host)).frontendApiUrl).toBe(url)
  })

  it("forgives whitespace around the key (an .env file's newline)", () => {
    expect(parsePublishableKey(` ${LIVE_KEY}\n`).frontendApi).toBe("clerk.example.com")
  })

  const payload = Buffer.from("secret-looking.example.com$").toString("base64")

  it.each([
    ["an empty string", "", /non-empty string/],
    ["the wrong prefix", `pk_prod_${payload}`, /must start with pk_test_ or pk_live_/],
    ["an upper-case prefix", `PK_TEST_${payload}`, /must start with pk_test_ or pk_live_/],
    ["a secret key", `sk_test_${payload}`, /is a secret key/],
    ["nothing after the prefix", "pk_test_", /not base64/],
    ["bad base64", "pk_test_not*base64!", /not base64/],
    ["base64 of a wrong length", `pk_test_${payload.slice(0, 5)}`, /not base64/],
    ["base64url instead of base64", "pk_live_Y2xlcmsuY2xlcmsuZGV2JA-_", /not base64/],
    ["misplaced padding", "pk_live_Y2xl=cmsuY2xlcmsuZGV2JA", /not base64/],
    [
      "no $ at the end",
      `pk_test_${Buffer.from("clerk.example.com").toString("base64")}`,
      /ending in \$/,
    ],
    ["only a $", `pk_test_${Buffer.from("$").toString("base64")}`, /ending in \$/],
    [
      "bytes that are not UTF-8",
      `pk_test_${Buffer.from([0xff, 0xfe, 0x24]).toString("base64")}`,
      /not base64/,
    ],
    ["a scheme in the host", keyFor("pk_test_", "https://clerk.example.com"), /has a scheme/],
    ["a space in the host", keyFor("pk_test_", "clerk example.com"), /not a host name/],
    ["a user in the host", keyFor("pk_test_", "me@clerk.example.com"), /not a host name/],
    ["a query after the host", keyFor("pk_test_", "clerk.example.com/?a=b"), /not a host name/],
    ["a backslash in the path", keyFor("pk_test_", "clerk.example.com/a\\b"), /not a host name/],
  ])("%s is an InvalidOptionsError that says why, without the key", (_, key, why) => {
    const error = invalid(() => parsePublishableKey(key))
    expect(error.detail).toMatch(why)
    if (key.length > 8) expect(error.message).not.toContain(key.slice(8))
    expect(error.message).not.toContain(payload)
  })

  it("a value that is not a string is an InvalidOptionsError", () => {
    expect(invalid(() => parsePublishableKey(42 as never)).detail).toMatch(/non-empty string/)
  })
})

describe("clerkFrontendApi({ publishableKey })", () => {
  it.effect("a production key sends to its host with cookies, and no dev-browser token", () =>
    Effect.gen(function* () {
      const fetch = fakeFetch()
      yield* fetchWith(clerkFrontendApi({ publishableKey: LIVE_KEY }), fetch.layer, {
        sessionId: "sess_1",
        template: "supabase",
      })
      const [call] = fetch.calls
      expect(call!.url).toBe("https://clerk.example.com/v1/client/sessions/sess_1/tokens/supabase")
      expect(call!.init.credentials).toBe("include")
    }),
  )

  it.effect(
    "a development key sends the dev-browser token as __clerk_db_jwt on every request",
    () =>
      Effect.gen(function* () {
        const fetch = fakeFetch()
        const source = clerkFrontendApi({ publishableKey: DEV_KEY, devBrowserToken: "dvb_a+b/c" })
        yield* fetchWith(source, fetch.layer)
        yield* fetchWith(source, fetch.layer, { sessionId: "sess_1", template: "hasura" })
        expect(fetch.calls.map((call) => call.url)).toEqual([
          "https://foo-bar-13.clerk.accounts.dev/v1/client/sessions/sess_1/tokens?__clerk_db_jwt=dvb_a%2Bb%2Fc",
          "https://foo-bar-13.clerk.accounts.dev/v1/client/sessions/sess_1/tokens/hasura?__clerk_db_jwt=dvb_a%2Bb%2Fc",
        ])
        expect(fetch.calls.map(dbJwtOf)).toEqual(["dvb_a+b/c", "dvb_a+b/c"])
        expect(fetch.calls[0]!.init.credentials).toBe("include")
      }),
  )

  it.effect("a devBrowserToken function is read before each request, sync or async", () =>
    Effect.gen(function* () {
      const fetch = fakeFetch()
      let n = 0
      const source = clerkFrontendApi({
        publishableKey: DEV_KEY,
        devBrowserToken: () => (++n % 2 === 1 ? `dvb_${n}` : Promise.resolve(`dvb_${n}`)),
      })
      yield* fetchWith(source, fetch.layer)
      yield* fetchWith(source, fetch.layer)
      expect(fetch.calls.map(dbJwtOf)).toEqual(["dvb_1", "dvb_2"])
    }),
  )

  const missing: ReadonlyArray<readonly [string, TokenSource.DevBrowserTokenFn]> = [
    ["undefined", () => undefined],
    ["null", () => null],
    ["an empty string", () => ""],
    ["a string with a space", () => "dvb_1 2"],
    ["a promise of nothing", () => Promise.resolve(undefined)],
  ]
  it.effect.each(missing)(
    "no dev-browser token (%s) fails as the Frontend API would, and sends nothing",
    ([, token]) =>
      Effect.gen(function* () {
        const fetch = fakeFetch()
        const error = yield* Effect.flip(
          fetchWith(
            clerkFrontendApi({ publishableKey: DEV_KEY, devBrowserToken: token }),
            fetch.layer,
          ),
        )
        expect(error).toBeInstanceOf(TokenSourceError)
        expect(error).toMatchObject({ status: 401, code: "dev_browser_unauthenticated" })
        expect(error.message).toMatch(/no dev-browser token/)
        expect(fetch.calls).toEqual([])
      }),
  )

  it.effect(
    "a devBrowserToken function that throws is a defect of the app, not a network failure",
    () =>
      Effect.gen(function* () {
        const bug = new Error("bug in the app")
        const fetch = fakeFetch()
        const source = clerkFrontendApi({
          publishableKey: DEV_KEY,
          devBrowserToken: () => {
            throw bug
          },
        })
        const exit = yield* Effect.exit(fetchWith(source, fetch.layer))
        expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toBe(bug)
        expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
        expect(fetch.calls).toEqual([])
      }),
  )

  it("takes a proxyUrl as the base, path included", () =>
    Effect.runPromise(
      Effect.gen(function* () {
        const fetch = fakeFetch()
        yield* fetchWith(
          clerkFrontendApi({
            publishableKey: LIVE_KEY,
            proxyUrl: "https://app.example.com/__clerk/",
          }),
          fetch.layer,
        )
        expect(fetch.calls[0]!.url).toBe(
          "https://app.example.com/__clerk/v1/client/sessions/sess_1/tokens",
        )
      }),
    ))

  it("a baseUrl with a devBrowserToken is a development instance", () =>
    Effect.runPromise(
      Effect.gen(function* () {
        const fetch = fakeFetch()
        yield* fetchWith(
          clerkFrontendApi({ baseUrl: "http://127.0.0.1:9/", devBrowserToken: "dvb_x" }),
          fetch.layer,
        )
        expect(fetch.calls[0]!.url).toBe(
          "http://127.0.0.1:9/v1/client/sessions/sess_1/tokens?__clerk_db_jwt=dvb_x",
        )
      }),
    ))

  it.each([null, undefined, 42])("%j instead of options is an InvalidOptionsError", (options) => {
    expect(invalid(() => clerkFrontendApi(options as never)).detail).toMatch(
      /clerkFrontendApi takes/,
    )
  })

  it.each([
    ["neither key nor baseUrl", {}, /takes \{ publishableKey \} or \{ baseUrl \}/],
    ["both key and baseUrl", { publishableKey: LIVE_KEY, baseUrl: "https://x.test" }, /not both/],
    [
      "proxyUrl with baseUrl",
      { baseUrl: "https://x.test", proxyUrl: "https://y.test" },
      /proxyUrl goes with publishableKey/,
    ],
    [
      "a devBrowserToken with a production key",
      { publishableKey: LIVE_KEY, devBrowserToken: "dvb_1" },
      /development instances/,
    ],
    [
      "an empty devBrowserToken",
      { publishableKey: DEV_KEY, devBrowserToken: "" },
      /devBrowserToken must be/,
    ],
    [
      "a devBrowserToken that is a number",
      { publishableKey: DEV_KEY, devBrowserToken: 7 },
      /devBrowserToken must be/,
    ],
    [
      "a proxyUrl that is not a URL",
      { publishableKey: LIVE_KEY, proxyUrl: "clerk proxy" },
      /proxyUrl must be/,
    ],
    [
      "a proxyUrl of another scheme",
      { publishableKey: LIVE_KEY, proxyUrl: "ftp://x.test/" },
      /proxyUrl must be/,
    ],
    [
      "a proxyUrl with a query",
      { publishableKey: LIVE_KEY, proxyUrl: "https://x.test/p?a=1" },
      /must not have a query/,
    ],
    [
      "a relative proxyUrl without a page",
      { publishableKey: LIVE_KEY, proxyUrl: "/__clerk" },
      /needs a page/,
    ],
    ["a malformed key", { publishableKey: "pk_live_###" }, /not base64/],
  ])("%s is an InvalidOptionsError at once", (_, options, why) => {
    expect(invalid(() => clerkFrontendApi(options as never)).detail).toMatch(why)
  })
})

describe("clerkFrontendApi in a browser", () => {
  const g = globalThis as { document?: unknown; location?: unknown }
  afterEach(() => {
    delete g.document
    delete g.location
  })

  it.effect("reads clerk-js's cookie before each request, the key's suffixed one first", () =>
    Effect.gen(function* () {
      // Clerk's example: the suffix of pk_test_Y2xlcmsuY2xlcmsuZGV2JA is QvfNY2dr.
      const document = { cookie: "a=1; __clerk_db_jwt=dvb_plain" }
      g.document = document
      const fetch = fakeFetch()
      const source = clerkFrontendApi({ publishableKey: "pk_test_Y2xlcmsuY2xlcmsuZGV2JA" })
      yield* fetchWith(source, fetch.layer)
      document.cookie = "__clerk_db_jwt=dvb_plain; __clerk_db_jwt_QvfNY2dr=dvb%5Fsuffixed; b=2"
      yield* fetchWith(source, fetch.layer)
      document.cookie = "__clerk_db_jwt_other=dvb_other_app"
      const error = yield* Effect.flip(fetchWith(source, fetch.layer))
      expect(fetch.calls.map(dbJwtOf)).toEqual(["dvb_plain", "dvb_suffixed"])
      expect(error).toMatchObject({ status: 401, code: "dev_browser_unauthenticated" })
    }),
  )

  it.effect("without a document and without devBrowserToken, a development key has no token", () =>
    Effect.gen(function* () {
      const fetch = fakeFetch()
      const error = yield* Effect.flip(
        fetchWith(clerkFrontendApi({ publishableKey: DEV_KEY }), fetch.layer),
      )
      expect(error).toMatchObject({ status: 401, code: "dev_browser_unauthenticated" })
      expect(fetch.calls).toEqual([])
    }),
  )

  it.effect("an explicit devBrowserToken wins over the cookie", () =>
    Effect.gen(function* () {
      g.document = { cookie: "__clerk_db_jwt=dvb_cookie" }
      const fetch = fakeFetch()
      yield* fetchWith(
        clerkFrontendApi({ publishableKey: DEV_KEY, devBrowserToken: "dvb_given" }),
        fetch.layer,
      )
      expect(fetch.calls.map(dbJwtOf)).toEqual(["dvb_given"])
    }),
  )

  it.effect("a production key never sends the cookie's dev-browser token", () =>
    Effect.gen(function* () {
      g.document = { cookie: "__clerk_db_jwt=dvb_cookie" }
      const fetch = fakeFetch()
      yield* fetchWith(clerkFrontendApi({ publishableKey: LIVE_KEY }), fetch.layer)
      expect(new URL(fetch.calls[0]!.url).search).toBe("")
    }),
  )

  it.effect("a relative proxyUrl is resolved against the page", () =>
    Effect.gen(function* () {
      g.location = { origin: "https://app.example.com" }
      const fetch = fakeFetch()
      yield* fetchWith(
        clerkFrontendApi({ publishableKey: LIVE_KEY, proxyUrl: "/__clerk" }),
        fetch.layer,
      )
      expect(fetch.calls[0]!.url).toBe(
        "https://app.example.com/__clerk/v1/client/sessions/sess_1/tokens",
      )
    }),
  )
})

describe("the client and a development instance", () => {
  const client = (
    respond: (call: Call) => Response,
    devBrowserToken?: TokenSource.DevBrowserTokenFn,
  ) => {
    const fetch = fakeFetch(respond)
    const tok = createTokenClient({
      source: clerkFrontendApi({
        publishableKey: DEV_KEY,
        ...(devBrowserToken === undefined ? {} : { devBrowserToken }),
      }).pipe(Layer.provide(fetch.layer)),
      session: "sess_1",
      retry: { attempts: 3, baseDelay: 1, maxDelay: 1 },
    })
    return { tok, calls: fetch.calls }
  }

  it("a 401 dev_browser_unauthenticated is a TokenRequestError that signs nobody out, not retried", async () => {
    const { tok, calls } = client(
      () =>
        Response.json(
          {
            errors: [
              {
                message: "Browser unauthenticated",
                long_message: "Unable to authenticate this browser for your development instance.",
                code: "dev_browser_unauthenticated",
              },
            ],
          },
          { status: 401 },
        ),
      () => "dvb_stale",
    )
    const error = await tok.getToken().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TokenRequestError)
    expect(error).toMatchObject({ status: 401, code: "dev_browser_unauthenticated" })
    expect((error as Error).message).toMatch(/dev-browser token \(__clerk_db_jwt\)/)
    expect((error as Error).message).not.toContain("dvb_stale")
    expect(tok.session).toBe("sess_1")
    expect(calls).toHaveLength(1)
    await tok.dispose()
  })

  it("a missing dev-browser token is the same TokenRequestError, with no request and the session kept", async () => {
    const { tok, calls } = client(
      () => Response.json({ jwt }),
      () => undefined,
    )
    const error = await tok.getToken().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TokenRequestError)
    expect(error).toMatchObject({ status: 401, code: "dev_browser_unauthenticated" })
    expect(tok.session).toBe("sess_1")
    expect(calls).toHaveLength(0)
    await tok.dispose()
  })

  it("with the token, the client gets its JWT", async () => {
    const { tok, calls } = client(
      () => Response.json({ object: "token", jwt }),
      () => "dvb_ok",
    )
    expect((await tok.getToken())?.jwt).toBe(jwt)
    expect(dbJwtOf(calls[0])).toBe("dvb_ok")
    await tok.dispose()
  })

  it("any other 401 still ends the session", async () => {
    const { tok } = client(
      () => Response.json({ errors: [{ code: "signed_out" }] }, { status: 401 }),
      () => "dvb_ok",
    )
    expect(await tok.getToken()).toBeNull()
    expect(tok.session).toBeNull()
    await tok.dispose()
  })
})

describe("clerkBackendApi", () => {
  it.each([null, undefined, "sk_test_x"])(
    "%j instead of options is an InvalidOptionsError",
    (options) => {
      expect(layerInvalid(TokenSource.clerkBackendApi(options as never)).detail).toMatch(
        /clerkBackendApi takes/,
      )
    },
  )

  it("a baseUrl that is not a URL is still an InvalidOptionsError", () => {
    expect(
      layerInvalid(
        TokenSource.clerkBackendApi({ baseUrl: "api.clerk.com", secretKey: "sk_test_x" }),
      ).detail,
    ).toMatch(/baseUrl must be/)
  })

  it.effect("defaults to Clerk's Backend API", () =>
    Effect.gen(function* () {
      const fetch = fakeFetch()
      yield* fetchWith(TokenSource.clerkBackendApi({ secretKey: "sk_test_x" }), fetch.layer)
      expect(fetch.calls[0]!.url).toBe("https://api.clerk.com/v1/sessions/sess_1/tokens")
    }),
  )
})

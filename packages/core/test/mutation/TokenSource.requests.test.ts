/**
 * The HTTP sources' requests and options at the edges the mutation run found
 * unchecked (issue 21, second round): the URL and headers sent, the source's
 * id, base URLs that are not http(s), a `null` or broken answer, and the
 * messages of refused options.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import {
  InvalidOptionsError,
  TokenClient,
  TokenSource,
  TokenSourceError,
  type TokenSourceError as SourceError,
} from "@tok/core"
import { fakeJwt } from "@tok/core/testing"

const jwt = fakeJwt({ iat: 0, exp: 60 })

interface Sent {
  readonly url: string
  readonly init: RequestInit
}

/** A source layer whose fetch records what it was asked and answers `respond()`. */
const recorded = (
  layer: Layer.Layer<TokenSource.TokenSource, InvalidOptionsError>,
  respond: () => Response = () => Response.json({ jwt }),
) => {
  const sent: Array<Sent> = []
  const provided = layer.pipe(
    Layer.provide(
      Layer.succeed(TokenSource.Fetch, async (url: string, init: RequestInit) => {
        sent.push({ url, init })
        return respond()
      }),
    ),
  )
  return { sent, layer: provided }
}

const fetchOnce = (layer: Layer.Layer<TokenSource.TokenSource, InvalidOptionsError>) =>
  Effect.gen(function* () {
    const tokens = yield* TokenSource.TokenSource
    return yield* Effect.result(tokens.fetch({ sessionId: "sess_1" }))
  }).pipe(Effect.provide(layer))

describe("what is sent", () => {
  it.effect(
    "trailing slashes of the base URL are dropped, all of them; the id names the path",
    () =>
      Effect.gen(function* () {
        const { sent, layer } = recorded(
          TokenSource.clerkFrontendApi({ baseUrl: "https://clerk.example.com//" }),
        )
        const id = yield* Effect.gen(function* () {
          return (yield* TokenSource.TokenSource).id
        }).pipe(Effect.provide(layer))
        expect(id).toBe("https://clerk.example.com/v1/client/sessions/")
        yield* fetchOnce(layer)
        expect(sent[0]!.url).toBe("https://clerk.example.com/v1/client/sessions/sess_1/tokens")
        const headers = sent[0]!.init.headers as Record<string, string>
        expect(headers.Accept).toBe("application/json")
        expect(sent[0]!.init.credentials).toBe("include")
      }),
  )

  it.effect("the Backend API sends no credentials mode at all", () =>
    Effect.gen(function* () {
      const { sent, layer } = recorded(
        TokenSource.clerkBackendApi({ secretKey: "sk_test_x", baseUrl: "https://api.example.com" }),
      )
      yield* fetchOnce(layer)
      expect("credentials" in sent[0]!.init).toBe(false)
    }),
  )
})

describe("answers", () => {
  it.effect("a 2xx answer of `null` is a malformed answer, not a network failure", () =>
    Effect.gen(function* () {
      const { layer } = recorded(
        TokenSource.clerkFrontendApi({ baseUrl: "https://x.example" }),
        () => new Response("null", { status: 200 }),
      )
      const result = yield* fetchOnce(layer)
      expect(result._tag).toBe("Failure")
      const error = (result as unknown as { failure: SourceError }).failure
      expect(error).toMatchObject({ status: 200, message: "the answer has no jwt string" })
    }),
  )

  it.effect("a fetch that answers something that is not a Response is a failed request", () =>
    Effect.gen(function* () {
      const { layer } = recorded(
        TokenSource.clerkFrontendApi({ baseUrl: "https://x.example" }),
        () => ({}) as Response,
      )
      const result = yield* fetchOnce(layer)
      expect(result._tag).toBe("Failure")
      const error = (result as unknown as { failure: SourceError }).failure
      expect(error).toBeInstanceOf(TokenSourceError)
      expect(error.message).toBe("the request failed")
    }),
  )

  it.effect("a 2xx failure without a message says so", () =>
    Effect.gen(function* () {
      const tok = yield* TokenClient.TokenClient
      yield* tok.setSession("sess_1")
      const error = yield* Effect.flip(tok.getToken())
      expect(error._tag).toBe("MalformedTokenError")
      expect(error.message).toContain("no detail")
    }).pipe(
      Effect.provide(
        TokenClient.layer().pipe(
          Layer.provide(
            TokenSource.fromFunction(() => Effect.fail(new TokenSourceError({ status: 200 }))),
          ),
        ),
      ),
    ),
  )
})

describe("options refused", () => {
  it.effect.each(["ftp://clerk.example.com", "ftp://clerk.example.com/https://x", "nope"])(
    "a base URL %s",
    (baseUrl) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(fetchOnce(TokenSource.clerkFrontendApi({ baseUrl })))
        expect(error).toBeInstanceOf(InvalidOptionsError)
        expect((error as InvalidOptionsError).message).toContain("baseUrl must be an http(s) URL")
      }),
  )

  it.effect("an empty secret key, saying what is wrong", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(fetchOnce(TokenSource.clerkBackendApi({ secretKey: "" })))
      expect(error).toBeInstanceOf(InvalidOptionsError)
      expect((error as InvalidOptionsError).message).toContain(
        "secretKey must be a non-empty string",
      )
    }),
  )
})

/**
 * Plumbing shared by the tests: run a body against a `TokenClient` built on
 * the public fakes of `@tok/core/testing`. No fakes live here.
 */
import * as Effect from "effect/Effect"
import { TestClock } from "effect/testing"
import { type InvalidOptionsError, type Token, TokenClient } from "@tok/core"
import { type FakeSource, type TestLifecycle, testClientLayer } from "@tok/core/testing"

/** Runs `body` with a client on `source` (in the surrounding `TestClock`). */
export const withClient = <A, E>(
  source: FakeSource,
  body: (tok: TokenClient.Service) => Effect.Effect<A, E>,
  config?: TokenClient.Config,
  lifecycle?: TestLifecycle,
): Effect.Effect<A, E | InvalidOptionsError> =>
  Effect.gen(function* () {
    const tok = yield* TokenClient.TokenClient
    return yield* body(tok)
  }).pipe(Effect.provide(testClientLayer(source, config, lifecycle)))

/** Runs an effect under a fresh `TestClock`, as a Promise (for fast-check properties). */
export const runTest = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.provide(TestClock.layer())))

/** The request number a fake-source token was minted by (1-based). */
export const mintedBy = (token: Token.Token): unknown => token.claims.n

/** The JWT a watcher's state holds, if any. */
export const jwtOf = (state: Token.TokenState): string | undefined =>
  (state as { token?: Token.Token }).token?.jwt

/** Lets every fiber that can run at the current virtual time run. */
export const settle = TestClock.adjust(0)

/**
 * The engine behind both faces, built from a `TokenSource`, a `TokenCache`
 * and a `Lifecycle` in the context, its fibers and timers in the scope.
 * `TokenClient.make` wraps it in the Effect service (with its streams);
 * `createTokenClient` uses it directly, so a Promise-face app never bundles
 * `Stream`, `Channel` or `Queue`.
 * @internal
 */
import type * as Scope from "effect/Scope"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Lifecycle from "../Lifecycle.ts"
import * as TokenCache from "../TokenCache.ts"
import { InvalidOptionsError } from "../TokenError.ts"
import { TokenSource } from "../TokenSource.ts"
import { unrefClock } from "./clock.ts"
import { Engine } from "./engine.ts"
import { checkConfig, type Config } from "./options.ts"
import { checkTelemetry } from "./telemetry.ts"

/** Checks the config and builds the engine; disposed when the scope closes. */
export const makeEngine = (
  config?: Config,
): Effect.Effect<
  Engine,
  InvalidOptionsError,
  TokenSource | TokenCache.TokenCache | Lifecycle.Lifecycle | Scope.Scope
> =>
  Effect.gen(function* () {
    const resolved = checkConfig(config)
    if (resolved instanceof InvalidOptionsError) return yield* resolved
    const telemetry = checkTelemetry(config)
    if (telemetry instanceof InvalidOptionsError) return yield* telemetry
    // Effect's default clock does not unref its timers; unless the context
    // chose a clock (TestClock, the user's), tok's timers never hold a Node
    // process open (DESIGN §2.7).
    const ambient = yield* Effect.context<never>()
    const chosen = Context.getOrUndefined(ambient, Clock.Clock)
    const clock = chosen ?? unrefClock
    const context = chosen === undefined ? Context.add(ambient, Clock.Clock, unrefClock) : ambient
    const fibers = yield* FiberSet.make<unknown, unknown>()
    const engine = new Engine({
      fibers,
      config: resolved,
      source: yield* TokenSource,
      cache: yield* TokenCache.TokenCache,
      lifecycle: yield* Lifecycle.Lifecycle,
      clock,
      context,
      telemetry,
    })
    yield* Effect.addFinalizer(() => engine.dispose())
    return engine
  })

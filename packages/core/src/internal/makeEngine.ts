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
import * as Lifecycle from "../Lifecycle.ts"
import * as TokenCache from "../TokenCache.ts"
import { InvalidOptionsError } from "../TokenError.ts"
import * as TokenShare from "../TokenShare.ts"
import { TokenSource } from "../TokenSource.ts"
import * as BrowserShare from "./browserShare.ts"
import { unrefClock } from "./clock.ts"
import { Engine } from "./engine.ts"
import { checkConfig, type Config, type ResolvedConfig } from "./options.ts"
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
    // Stryker disable next-line ConditionalExpression: the unref'd clock is seen only by whether a Node process exits on its own, which test/nodeExit.test.ts checks in child processes, where Stryker cannot switch a mutant on
    const context = chosen === undefined ? Context.add(ambient, Clock.Clock, unrefClock) : ambient
    const source = yield* TokenSource
    const share = yield* chooseShare(resolved, source)
    const engine = new Engine({
      config: resolved,
      share,
      followSessionSwitch: resolved.share.followSessionSwitch,
      source,
      cache: yield* TokenCache.TokenCache,
      lifecycle: yield* Lifecycle.Lifecycle,
      clock,
      context,
      telemetry,
    })
    yield* Effect.addFinalizer(() => engine.close())
    // Stryker disable next-line ConditionalExpression: subscribing to the inactive share (TokenShare.none) does nothing, so always subscribing answers the same
    if (engine.sharing.active) {
      // A share that cannot listen leaves the client on its own (DESIGN §7.2).
      // (`Effect.catch`, not `Effect.ignore`: `ignore` reaches Effect's logger
      // for its `log` option, 0.2 KB gz, even when that option is not used.)
      yield* Effect.catch(
        share.subscribe((message) => engine.sharing.receive(message)),
        () => Effect.void,
      )
    }
    return engine
  })

/**
 * The share a client uses: none when `share: false`; the one provided in
 * the context (`TokenShare.layerBrowser`, `@tok/redis`); else, in a page with
 * `BroadcastChannel` and Web Locks, tabs of the same source and session.
 */
const chooseShare = (
  config: ResolvedConfig,
  source: TokenSource["Service"],
): Effect.Effect<TokenShare.Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    if (!config.share.enabled) return TokenShare.none
    const provided = yield* TokenShare.TokenShare
    if (provided.kind !== "none") return provided
    const { channel, locks } = config.share
    const name = config.share.name ?? source.id
    const reachable =
      (channel !== undefined && locks !== undefined) || TokenShare.browserAvailable()
    if (name === undefined || !reachable) return TokenShare.none
    return yield* BrowserShare.make({ name, channel, locks })
  })

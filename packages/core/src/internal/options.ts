/**
 * Checks of everything a caller passes in: per-call options and client config.
 * A problem becomes an `InvalidOptionsError`; nothing invalid reaches a cache
 * key, a request path or a timer.
 * @internal
 */
import * as RetryPolicy from "../RetryPolicy.ts"
import { InvalidOptionsError } from "../TokenError.ts"
import type { ChannelLike, LockManagerLike } from "./browserShare.ts"

/** Per-call options, as the client reads them. */
export interface CallOptions {
  readonly template?: string | undefined
  readonly organizationId?: string | undefined
  readonly expirationBuffer?: number | undefined
  readonly skipCache?: boolean | undefined
  readonly sessionId?: string | undefined
}

/** Options after checking: buffer in ms, organization "" folded into none. */
export interface Checked {
  readonly template: string | undefined
  readonly organizationId: string | undefined
  readonly bufferMillis: number
  readonly skipCache: boolean
  readonly sessionId: string | undefined
}

/** Client-wide configuration, as DESIGN §4 lists it. */
export interface Config {
  /** Seconds; a cached token expiring within this is not used (default 10, clamped to [0, 60]). */
  readonly expirationBuffer?: number | undefined
  /** Retry options in ms; `attempts` counts the first try. */
  readonly retry?: Partial<RetryPolicy.Options> | undefined
  /** Per-attempt timeout in ms (default 10 000). */
  readonly requestTimeout?: number | undefined
  /** How many tokens the cache keeps (default 1000). */
  readonly maxEntries?: number | undefined
  /** Refresh watched keys in the background (default true). */
  readonly autoRefresh?: boolean | undefined
  /** J: the most a background refresh is moved earlier, in ms (default 2000). */
  readonly refreshJitter?: number | undefined
  /** Put the session id on spans (default false: it identifies a user). */
  readonly traceSessionId?: boolean | undefined
  /** This client's name in events and devtools (default: a random id). */
  readonly instance?: string | undefined
  /**
   * Share tokens and sign-outs with peers (DESIGN §7): `false` turns it off;
   * `true` (the default) shares between tabs in a page with
   * `BroadcastChannel` and Web Locks, or through a `TokenShare` layer you
   * provide. `{ name }` names what is shared (default: the source's base
   * URL; a `fromFunction` source shares only when named);
   * `followSessionSwitch` makes a switch of sessions in one tab switch the
   * others that were on the same session.
   */
  readonly share?: boolean | ShareConfig | undefined
}

/** The `share` option as an object. */
export interface ShareConfig {
  /** Clients share only with clients of the same name (default: the source's base URL). */
  readonly name?: string | undefined
  /** A switch to another session in one tab switches every tab that was on the same one. */
  readonly followSessionSwitch?: boolean | undefined
  /**
   * The channel and lock manager to share over, instead of the page's
   * (`BroadcastChannel`, `navigator.locks`): `makeShareHub()` of
   * `@tok/core/testing` gives in-memory ones, to run several clients in one
   * process. Given both, sharing works outside a page too.
   */
  readonly channel?: ((name: string) => ChannelLike) | undefined
  readonly locks?: LockManagerLike | undefined
}

/** Config after checking. */
export interface ResolvedConfig {
  readonly bufferMillis: number
  readonly retry: RetryPolicy.Options
  readonly requestTimeout: number
  readonly maxEntries: number
  readonly autoRefresh: boolean
  readonly refreshJitter: number
  readonly share: {
    readonly enabled: boolean
    readonly name: string | undefined
    readonly followSessionSwitch: boolean
    readonly channel?: ((name: string) => ChannelLike) | undefined
    readonly locks?: LockManagerLike | undefined
  }
}

const fail = (detail: string) => new InvalidOptionsError({ detail })

/** A plain object (not `null`, not an array). */
const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Control characters: never in an id (the cache key's separator is one). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/

/** `undefined` for `undefined` or a finite number (seconds, clamped to [0, 60], as ms); else a problem. */
const bufferOf = (value: unknown): number | undefined | InvalidOptionsError =>
  value === undefined
    ? undefined
    : typeof value === "number" && Number.isFinite(value)
      ? Math.min(60, Math.max(0, value)) * 1000
      : fail("expirationBuffer must be a finite number of seconds")

/**
 * What is wrong with `id` as a URL path segment, after `name`; `undefined` if
 * nothing is.
 */
const idProblem = (id: unknown, name: string): InvalidOptionsError | undefined => {
  const problem =
    typeof id !== "string"
      ? "must be a string"
      : id === ""
        ? "must not be empty"
        : id === "." || id === ".."
          ? 'must not be "." or ".."'
          : id.length > 512
            ? "is longer than 512 characters"
            : CONTROL.test(id)
              ? "must not contain control characters"
              : undefined
  return problem === undefined ? undefined : fail(`${name} ${problem}`)
}

/** Checks a session id the client is about to use. */
export const checkSessionId = (id: unknown, name = "sessionId"): InvalidOptionsError | undefined =>
  idProblem(id, name)

/**
 * The first of `names` whose value in `o` is neither `undefined` nor of
 * `type`, as a problem; `undefined` if there is none.
 */
export const typeProblem = (
  o: Record<string, unknown>,
  type: "boolean" | "function",
  names: ReadonlyArray<string>,
  prefix = "",
): InvalidOptionsError | undefined => {
  for (const name of names) {
    if (o[name] !== undefined && typeof o[name] !== type) {
      return fail(`${prefix}${name} must be a ${type}`)
    }
  }
  return undefined
}

/** Checks per-call options against the client's default buffer. */
export const checkCall = (
  options: unknown,
  defaultBufferMillis: number,
): Checked | InvalidOptionsError => {
  if (options == null) options = {}
  if (!isObject(options)) return fail("options must be an object")
  const { template, organizationId, skipCache, sessionId } = options
  const bufferMillis = bufferOf(options.expirationBuffer) ?? defaultBufferMillis
  const problem =
    (template === undefined ? undefined : idProblem(template, "template")) ??
    (organizationId === undefined ||
    (typeof organizationId === "string" &&
      organizationId.length <= 512 &&
      !CONTROL.test(organizationId))
      ? undefined
      : fail(
          "organizationId must be a string of up to 512 characters, without control characters",
        )) ??
    typeProblem(options, "boolean", ["skipCache"]) ??
    (sessionId === undefined ? undefined : idProblem(sessionId, "sessionId"))
  if (problem !== undefined) return problem
  if (typeof bufferMillis !== "number") return bufferMillis
  return {
    template: template as string | undefined,
    organizationId: (organizationId || undefined) as string | undefined,
    bufferMillis,
    skipCache: skipCache === true,
    sessionId: sessionId as string | undefined,
  }
}

/** `value`, or `fallback` if it is `undefined`, if `ok`; else the problem. */
const numberOr = (
  value: unknown,
  fallback: number,
  ok: (n: number) => boolean,
  problem: string,
): number | InvalidOptionsError =>
  value === undefined ? fallback : typeof value === "number" && ok(value) ? value : fail(problem)

const nonNegative = (n: number) => Number.isFinite(n) && n >= 0

/** Checks client-wide config. */
export const checkConfig = (config: unknown): ResolvedConfig | InvalidOptionsError => {
  const c = config === undefined ? {} : config
  if (!isObject(c)) return fail("the client config must be an object")
  const bufferMillis = bufferOf(c.expirationBuffer) ?? 10_000
  if (typeof bufferMillis !== "number") return bufferMillis
  const r = c.retry === undefined ? {} : c.retry
  if (!isObject(r)) return fail("retry must be an object")
  // A field given as `undefined` keeps its default, as an absent one does.
  const retry = {
    attempts: r.attempts ?? RetryPolicy.defaults.attempts,
    baseDelay: r.baseDelay ?? RetryPolicy.defaults.baseDelay,
    maxDelay: r.maxDelay ?? RetryPolicy.defaults.maxDelay,
  } as RetryPolicy.Options
  const retryProblem = RetryPolicy.validate(retry)
  if (retryProblem !== undefined) return fail(retryProblem)
  const requestTimeout = numberOr(
    c.requestTimeout,
    10_000,
    (n) => nonNegative(n) && n > 0,
    "requestTimeout must be a finite number of ms > 0",
  )
  if (typeof requestTimeout !== "number") return requestTimeout
  const maxEntries = numberOr(
    c.maxEntries,
    1000,
    (n) => Number.isInteger(n) && n >= 1,
    "maxEntries must be a whole number ≥ 1",
  )
  if (typeof maxEntries !== "number") return maxEntries
  const refreshJitter = numberOr(
    c.refreshJitter,
    2000,
    nonNegative,
    "refreshJitter must be a finite number ≥ 0",
  )
  if (typeof refreshJitter !== "number") return refreshJitter
  const share = typeProblem(c, "boolean", ["autoRefresh"]) ?? checkShare(c.share)
  if (share instanceof InvalidOptionsError) return share
  return {
    bufferMillis,
    retry,
    requestTimeout,
    maxEntries,
    autoRefresh: c.autoRefresh !== false,
    refreshJitter,
    share,
  }
}

/** Checks the `share` option. */
const checkShare = (share: unknown): ResolvedConfig["share"] | InvalidOptionsError => {
  if (share === undefined || typeof share === "boolean") {
    return { enabled: share !== false, name: undefined, followSessionSwitch: false }
  }
  if (!isObject(share)) return fail("share must be a boolean or an object")
  const { name, followSessionSwitch, channel, locks } = share
  if (name !== undefined && (typeof name !== "string" || name === "" || name.length > 512)) {
    return fail("share.name must be a non-empty string")
  }
  const problem =
    typeProblem(share, "boolean", ["followSessionSwitch"], "share.") ??
    typeProblem(share, "function", ["channel"], "share.")
  if (problem !== undefined) return problem
  if (
    locks !== undefined &&
    (typeof locks !== "object" || typeof (locks as LockManagerLike | null)?.request !== "function")
  ) {
    return fail("share.locks must be a lock manager")
  }
  return {
    enabled: true,
    name,
    followSessionSwitch: followSessionSwitch === true,
    channel: channel as ((name: string) => ChannelLike) | undefined,
    locks: locks as LockManagerLike | undefined,
  }
}

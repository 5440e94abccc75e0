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

const clampBuffer = (value: unknown, name: string): number | InvalidOptionsError => {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    return new InvalidOptionsError({ detail: `${name} must be a finite number of seconds` })
  }
  return Math.min(60, Math.max(0, value)) * 1000
}

/** Whether `id` can be put into a URL path segment safely. */
const pathSegmentProblem = (id: string, name: string): string | undefined => {
  if (id.length === 0) return `${name} must not be empty`
  if (id === "." || id === "..") return `${name} must not be "." or ".."`
  if (id.length > 512) return `${name} is longer than 512 characters`
  if (hasControlCharacter(id)) return `${name} must not contain control characters`
  return undefined
}

/** Control characters: never in an id (the cache key's separator is one). */
const hasControlCharacter = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return true
  }
  return false
}

/** Checks a session id the client is about to use. */
export const checkSessionId = (
  id: unknown,
  name = "sessionId",
): InvalidOptionsError | undefined => {
  if (typeof id !== "string") return new InvalidOptionsError({ detail: `${name} must be a string` })
  const problem = pathSegmentProblem(id, name)
  return problem === undefined ? undefined : new InvalidOptionsError({ detail: problem })
}

/** Checks per-call options against the client's default buffer. */
export const checkCall = (
  options: unknown,
  defaultBufferMillis: number,
): Checked | InvalidOptionsError => {
  if (options === undefined || options === null) {
    return {
      template: undefined,
      organizationId: undefined,
      bufferMillis: defaultBufferMillis,
      skipCache: false,
      sessionId: undefined,
    }
  }
  if (typeof options !== "object" || Array.isArray(options)) {
    return new InvalidOptionsError({ detail: "options must be an object" })
  }
  const o = options as Record<string, unknown>
  const { template, organizationId, expirationBuffer, skipCache, sessionId } = o
  if (template !== undefined) {
    if (typeof template !== "string") {
      return new InvalidOptionsError({ detail: "template must be a string" })
    }
    const problem = pathSegmentProblem(template, "template")
    if (problem !== undefined) return new InvalidOptionsError({ detail: problem })
  }
  if (organizationId !== undefined && typeof organizationId !== "string") {
    return new InvalidOptionsError({ detail: "organizationId must be a string" })
  }
  if (organizationId !== undefined && organizationId.length > 512) {
    return new InvalidOptionsError({ detail: "organizationId is longer than 512 characters" })
  }
  if (organizationId !== undefined && hasControlCharacter(organizationId)) {
    return new InvalidOptionsError({ detail: "organizationId must not contain control characters" })
  }
  if (skipCache !== undefined && typeof skipCache !== "boolean") {
    return new InvalidOptionsError({ detail: "skipCache must be a boolean" })
  }
  if (sessionId !== undefined) {
    const problem = checkSessionId(sessionId)
    if (problem !== undefined) return problem
  }
  const bufferMillis =
    expirationBuffer === undefined
      ? defaultBufferMillis
      : clampBuffer(expirationBuffer, "expirationBuffer")
  if (typeof bufferMillis !== "number") return bufferMillis
  return {
    template: template as string | undefined,
    organizationId: organizationId === "" ? undefined : (organizationId as string | undefined),
    bufferMillis,
    skipCache: skipCache === true,
    sessionId: sessionId as string | undefined,
  }
}

const nonNegative = (value: unknown, name: string, fallback: number): number | string => {
  if (value === undefined) return fallback
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    return `${name} must be a finite number ≥ 0`
  }
  return value
}

/** Checks client-wide config. */
export const checkConfig = (config: unknown): ResolvedConfig | InvalidOptionsError => {
  if (
    config !== undefined &&
    (typeof config !== "object" || config === null || Array.isArray(config))
  ) {
    return new InvalidOptionsError({ detail: "the client config must be an object" })
  }
  const c = (config ?? {}) as Record<string, unknown>
  const bufferMillis =
    c.expirationBuffer === undefined ? 10_000 : clampBuffer(c.expirationBuffer, "expirationBuffer")
  if (typeof bufferMillis !== "number") return bufferMillis
  if (
    c.retry !== undefined &&
    (typeof c.retry !== "object" || c.retry === null || Array.isArray(c.retry))
  ) {
    return new InvalidOptionsError({ detail: "retry must be an object" })
  }
  // A field given as `undefined` keeps its default, as an absent one does.
  const r = (c.retry ?? {}) as Partial<Record<keyof RetryPolicy.Options, unknown>>
  const retry = {
    attempts: r.attempts ?? RetryPolicy.defaults.attempts,
    baseDelay: r.baseDelay ?? RetryPolicy.defaults.baseDelay,
    maxDelay: r.maxDelay ?? RetryPolicy.defaults.maxDelay,
  } as RetryPolicy.Options
  const retryProblem = RetryPolicy.validate(retry)
  if (retryProblem !== undefined) return new InvalidOptionsError({ detail: retryProblem })
  const requestTimeout = nonNegative(c.requestTimeout, "requestTimeout", 10_000)
  if (typeof requestTimeout === "string") return new InvalidOptionsError({ detail: requestTimeout })
  if (requestTimeout === 0) {
    return new InvalidOptionsError({ detail: "requestTimeout must be more than 0 ms" })
  }
  const maxEntries = c.maxEntries === undefined ? 1000 : c.maxEntries
  if (typeof maxEntries !== "number" || !Number.isInteger(maxEntries) || maxEntries < 1) {
    return new InvalidOptionsError({ detail: "maxEntries must be a whole number ≥ 1" })
  }
  if (c.autoRefresh !== undefined && typeof c.autoRefresh !== "boolean") {
    return new InvalidOptionsError({ detail: "autoRefresh must be a boolean" })
  }
  const refreshJitter = nonNegative(c.refreshJitter, "refreshJitter", 2000)
  if (typeof refreshJitter === "string") return new InvalidOptionsError({ detail: refreshJitter })
  const share = checkShare(c.share)
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
  if (typeof share !== "object" || share === null || Array.isArray(share)) {
    return new InvalidOptionsError({ detail: "share must be a boolean or an object" })
  }
  const { name, followSessionSwitch, channel, locks } = share as Record<string, unknown>
  if (name !== undefined && (typeof name !== "string" || name === "" || name.length > 512)) {
    return new InvalidOptionsError({ detail: "share.name must be a non-empty string" })
  }
  if (followSessionSwitch !== undefined && typeof followSessionSwitch !== "boolean") {
    return new InvalidOptionsError({ detail: "share.followSessionSwitch must be a boolean" })
  }
  if (channel !== undefined && typeof channel !== "function") {
    return new InvalidOptionsError({ detail: "share.channel must be a function" })
  }
  if (
    locks !== undefined &&
    (typeof locks !== "object" ||
      locks === null ||
      typeof (locks as LockManagerLike).request !== "function")
  ) {
    return new InvalidOptionsError({ detail: "share.locks must be a lock manager" })
  }
  return {
    enabled: true,
    name,
    followSessionSwitch: followSessionSwitch === true,
    channel: channel as ((name: string) => ChannelLike) | undefined,
    locks: locks as LockManagerLike | undefined,
  }
}

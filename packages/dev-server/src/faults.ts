/**
 * Fault injection: how the token routes misbehave on purpose. Faults touch only
 * token requests (`POST …/tokens[/:template]`, frontend and backend), never
 * sessions, JWKS or the admin API.
 * @module
 */

/** What a malformed 200 answer looks like. */
export type MalformedBody = "html" | "empty-object" | "invalid-json" | "not-a-jwt"

/** The malformed bodies, for validation and help texts. */
export const malformedBodies: readonly MalformedBody[] = [
  "html",
  "empty-object",
  "invalid-json",
  "not-a-jwt",
]

/**
 * Faults to set, by `startDevServer({ faults })`, `server.setFaults(…)` or
 * `POST /__tok/faults`. Each given field replaces the current one; `null` or `0`
 * clears it; omitted fields stay as they are.
 */
export interface FaultSettings {
  /** Every token request waits this long (ms) before it is answered. */
  readonly latencyMs?: number
  /** The server's clock is off by this many seconds (±) for `iat`, `nbf`, `exp`. */
  readonly clockSkewSeconds?: number
  /** The next `count` (default 1) token requests answer `status`, with `Retry-After` when given (429: 1 s by default). */
  readonly fail?: {
    readonly status: number
    readonly count?: number
    readonly retryAfterSeconds?: number
  } | null
  /** Every token request answers `status` (default 503) for the next `ms` milliseconds. */
  readonly failFor?: {
    readonly ms: number
    readonly status?: number
    readonly retryAfterSeconds?: number
  } | null
  /** The next N token requests have their connection destroyed, with no answer. */
  readonly drop?: number
  /** The next `count` (default 1) tokens are answered 200 with a broken body (default `"html"`). */
  readonly malformed?: { readonly count?: number; readonly body?: MalformedBody } | null
  /** The next N tokens are signed without an `exp` claim. */
  readonly noExp?: number
}

/** The faults in force, as `GET /__tok/faults` and `server.faults()` report them. */
export interface FaultState {
  readonly latencyMs: number
  readonly clockSkewSeconds: number
  /** `count` is how many failures are left. */
  readonly fail: {
    readonly status: number
    readonly count: number
    readonly retryAfterSeconds?: number
  } | null
  /** `remainingMs` is how long the window has left. */
  readonly failFor: {
    readonly status: number
    readonly remainingMs: number
    readonly retryAfterSeconds?: number
  } | null
  readonly drop: number
  readonly malformed: { readonly count: number; readonly body: MalformedBody } | null
  readonly noExp: number
}

/** What the server does with one token request before it looks at the request itself. */
export type TransportFault =
  | { readonly kind: "none" }
  | { readonly kind: "drop" }
  | { readonly kind: "fail"; readonly status: number; readonly retryAfterSeconds?: number }

/** Limits of the values accepted. */
const limits = {
  latencyMs: 60_000,
  clockSkewSeconds: 7 * 86_400,
  count: 1_000_000,
  windowMs: 3_600_000,
  retryAfterSeconds: 86_400,
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const int = (value: unknown, where: string, min: number, max: number): number => {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${where} must be a whole number in [${min}, ${max}]`)
  }
  return value
}

const onlyKeys = (value: Record<string, unknown>, where: string, keys: readonly string[]) => {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new Error(`${where}: unknown field "${key}" (known: ${keys.join(", ")})`)
    }
  }
}

const status = (value: unknown, where: string): number => int(value, where, 400, 599)

/**
 * Checks fault settings from JSON or options and returns them typed; throws an
 * `Error` that names the bad field.
 */
export const parseFaultSettings = (input: unknown): FaultSettings => {
  if (!isRecord(input)) throw new Error("faults: expected a JSON object")
  onlyKeys(input, "faults", [
    "latencyMs",
    "clockSkewSeconds",
    "fail",
    "failFor",
    "drop",
    "malformed",
    "noExp",
  ])
  const out: {
    -readonly [K in keyof FaultSettings]: FaultSettings[K]
  } = {}
  if (input.latencyMs !== undefined)
    out.latencyMs = int(input.latencyMs, "latencyMs", 0, limits.latencyMs)
  if (input.clockSkewSeconds !== undefined) {
    const max = limits.clockSkewSeconds
    out.clockSkewSeconds = int(input.clockSkewSeconds, "clockSkewSeconds", -max, max)
  }
  if (input.drop !== undefined) out.drop = int(input.drop, "drop", 0, limits.count)
  if (input.noExp !== undefined) out.noExp = int(input.noExp, "noExp", 0, limits.count)
  const retryAfter = (value: unknown, where: string) =>
    value === undefined ? {} : { retryAfterSeconds: int(value, where, 0, limits.retryAfterSeconds) }
  if (input.fail === null) out.fail = null
  else if (input.fail !== undefined) {
    const fail = input.fail
    if (!isRecord(fail)) throw new Error("fail: expected { status, count?, retryAfterSeconds? }")
    onlyKeys(fail, "fail", ["status", "count", "retryAfterSeconds"])
    out.fail = {
      status: status(fail.status, "fail.status"),
      count: fail.count === undefined ? 1 : int(fail.count, "fail.count", 0, limits.count),
      ...retryAfter(fail.retryAfterSeconds, "fail.retryAfterSeconds"),
    }
  }
  if (input.failFor === null) out.failFor = null
  else if (input.failFor !== undefined) {
    const failFor = input.failFor
    if (!isRecord(failFor)) throw new Error("failFor: expected { ms, status?, retryAfterSeconds? }")
    onlyKeys(failFor, "failFor", ["ms", "status", "retryAfterSeconds"])
    out.failFor = {
      ms: int(failFor.ms, "failFor.ms", 0, limits.windowMs),
      status: failFor.status === undefined ? 503 : status(failFor.status, "failFor.status"),
      ...retryAfter(failFor.retryAfterSeconds, "failFor.retryAfterSeconds"),
    }
  }
  if (input.malformed === null) out.malformed = null
  else if (input.malformed !== undefined) {
    const malformed = input.malformed
    if (!isRecord(malformed)) throw new Error("malformed: expected { count?, body? }")
    onlyKeys(malformed, "malformed", ["count", "body"])
    const body = malformed.body ?? "html"
    if (!malformedBodies.includes(body as MalformedBody)) {
      throw new Error(`malformed.body must be one of ${malformedBodies.join(", ")}`)
    }
    out.malformed = {
      count:
        malformed.count === undefined
          ? 1
          : int(malformed.count, "malformed.count", 0, limits.count),
      body: body as MalformedBody,
    }
  }
  return out
}

/**
 * The mutable fault state of one server. Transport faults (a failure window,
 * drops, failures) are decided when a token request arrives, in that order, one
 * per request; content faults (malformed body, missing `exp`) when a token is
 * about to be issued, so a request that ends in 401 or 404 does not use them up.
 */
export class FaultController {
  #now: () => number
  #latencyMs = 0
  #clockSkewSeconds = 0
  #fail: { status: number; count: number; retryAfterSeconds?: number } | null = null
  #failUntil: { status: number; until: number; retryAfterSeconds?: number } | null = null
  #drop = 0
  #malformed: { count: number; body: MalformedBody } | null = null
  #noExp = 0

  constructor(now: () => number) {
    this.#now = now
  }

  /** Checks settings with {@link parseFaultSettings} and merges them in; throws on a bad one, changing nothing. */
  apply(settings: FaultSettings): void {
    const s = parseFaultSettings(settings)
    if (s.latencyMs !== undefined) this.#latencyMs = s.latencyMs
    if (s.clockSkewSeconds !== undefined) this.#clockSkewSeconds = s.clockSkewSeconds
    if (s.drop !== undefined) this.#drop = s.drop
    if (s.noExp !== undefined) this.#noExp = s.noExp
    if (s.fail !== undefined) {
      const count = s.fail?.count ?? 0
      this.#fail =
        s.fail && count > 0
          ? {
              status: s.fail.status,
              count,
              ...withRetryAfter(s.fail.status, s.fail.retryAfterSeconds),
            }
          : null
    }
    if (s.failFor !== undefined) {
      const status = s.failFor?.status ?? 503
      this.#failUntil =
        s.failFor && s.failFor.ms > 0
          ? {
              status,
              until: this.#now() + s.failFor.ms,
              ...withRetryAfter(status, s.failFor.retryAfterSeconds),
            }
          : null
    }
    if (s.malformed !== undefined) {
      const count = s.malformed?.count ?? 0
      this.#malformed =
        s.malformed && count > 0 ? { count, body: s.malformed.body ?? "html" } : null
    }
  }

  /** Clears every fault. */
  clear(): void {
    this.#latencyMs = 0
    this.#clockSkewSeconds = 0
    this.#fail = null
    this.#failUntil = null
    this.#drop = 0
    this.#malformed = null
    this.#noExp = 0
  }

  /** The faults in force. */
  state(): FaultState {
    const now = this.#now()
    const window = this.#failUntil && this.#failUntil.until > now ? this.#failUntil : null
    return {
      latencyMs: this.#latencyMs,
      clockSkewSeconds: this.#clockSkewSeconds,
      fail: this.#fail ? { ...this.#fail } : null,
      failFor: window
        ? {
            status: window.status,
            remainingMs: window.until - now,
            ...(window.retryAfterSeconds === undefined
              ? {}
              : { retryAfterSeconds: window.retryAfterSeconds }),
          }
        : null,
      drop: this.#drop,
      malformed: this.#malformed ? { ...this.#malformed } : null,
      noExp: this.#noExp,
    }
  }

  /** The added latency (ms) for a token request. */
  get latencyMs(): number {
    return this.#latencyMs
  }

  /** The server clock's offset in seconds. */
  get clockSkewSeconds(): number {
    return this.#clockSkewSeconds
  }

  /** Decides, and uses up, the transport fault for a token request that just arrived. */
  takeTransportFault(): TransportFault {
    const window = this.#failUntil
    if (window) {
      if (window.until > this.#now()) return { kind: "fail", ...window }
      this.#failUntil = null
    }
    if (this.#drop > 0) {
      this.#drop -= 1
      return { kind: "drop" }
    }
    const fail = this.#fail
    if (fail) {
      fail.count -= 1
      if (fail.count <= 0) this.#fail = null
      return {
        kind: "fail",
        status: fail.status,
        ...(fail.retryAfterSeconds === undefined
          ? {}
          : { retryAfterSeconds: fail.retryAfterSeconds }),
      }
    }
    return { kind: "none" }
  }

  /** Decides, and uses up, the malformed body for a token about to be issued, if any. */
  takeMalformed(): MalformedBody | undefined {
    const malformed = this.#malformed
    if (!malformed) return undefined
    malformed.count -= 1
    if (malformed.count <= 0) this.#malformed = null
    return malformed.body
  }

  /** Decides, and uses up, whether the token about to be signed leaves out `exp`. */
  takeNoExp(): boolean {
    if (this.#noExp <= 0) return false
    this.#noExp -= 1
    return true
  }
}

/** 429 always carries `Retry-After` (1 s unless given); other statuses only when given. */
const withRetryAfter = (status: number, seconds: number | undefined) =>
  seconds !== undefined
    ? { retryAfterSeconds: seconds }
    : status === 429
      ? { retryAfterSeconds: 1 }
      : {}

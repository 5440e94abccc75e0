/**
 * DESIGN §2.4's request bounds, as allowances the model adds up over a
 * history: what each trigger may cost, and what a watched key may cost in
 * the background per unit of virtual time, by how the server answers it.
 */
import type { Behaviour } from "./world.ts"

/** The client's retry defaults (DESIGN §2.5); the model runs with them. */
export const ATTEMPTS = 4
export const REQUEST_TIMEOUT = 10_000
export const MAX_DELAY = 8_000

/**
 * The longest a caller may wait for one request: every attempt timing out,
 * every delay at its longest (`Retry-After` up to `maxDelay` is waited for).
 */
export const RETRY_BUDGET = ATTEMPTS * REQUEST_TIMEOUT + (ATTEMPTS - 1) * MAX_DELAY

const HOUR = 3_600_000

/** How a key's requests are bounded while its server answers this way. */
export type Traffic =
  /** Tokens come back (perhaps after transient failures): refreshed ahead of expiry. */
  | { readonly tag: "healthy"; readonly lifetimeMs: number; readonly factor: number }
  /** Every retry fails transiently: a backoff from 5 s, doubling, capped at 5 min. */
  | { readonly tag: "dead" }
  /** Fails for good: never on a timer, at most 10 an hour, one per trigger. */
  | { readonly tag: "permanent" }

/** A caching proxy may cost a few times a healthy key (DESIGN §2.4, "Repeated JWTs"). */
export const REPEAT_FACTOR = 4

export const trafficOf = (behaviour: Behaviour, storeThrows: boolean): Traffic => {
  if (storeThrows) return { tag: "dead" }
  switch (behaviour.kind) {
    case "ok":
      return { tag: "healthy", lifetimeMs: behaviour.lifetime * 1000, factor: 1 }
    case "repeat":
      return { tag: "healthy", lifetimeMs: behaviour.lifetime * 1000, factor: REPEAT_FACTOR }
    case "flaky":
      return { tag: "healthy", lifetimeMs: 60_000, factor: ATTEMPTS }
    case "dead":
      return { tag: "dead" }
    case "permanent":
    case "malformed":
    case "unauthorized":
      return { tag: "permanent" }
  }
}

/** Requests one trigger (a call, a subscribe, `refresh()`, a resume…) may cost. */
export const perTrigger = (behaviour: Behaviour, storeThrows: boolean): number => {
  if (storeThrows) return ATTEMPTS
  switch (behaviour.kind) {
    case "ok":
    case "repeat":
    case "permanent":
    case "malformed":
    case "unauthorized":
      return 1
    case "flaky":
    case "dead":
      return ATTEMPTS
  }
}

/**
 * How often a watched key is refreshed (ms): at `expiresAt − buffer − J` for
 * a token that lives longer than `buffer + J`, else at half its life. (At
 * `lifetime = buffer + J` the first rule would refresh at the moment a
 * token arrives — a storm — so the half-life rule takes that point too.)
 */
export const refreshPeriod = (lifetimeMs: number, bufferMs: number, jitterMs: number): number =>
  lifetimeMs > bufferMs + jitterMs ? lifetimeMs - bufferMs - jitterMs : lifetimeMs / 2

/** A healthy key's bound over an hour, ⌈3600 s / period⌉ (75 with the defaults). */
export const healthyPerHour = (bufferMs: number, jitterMs: number): number =>
  Math.ceil(HOUR / refreshPeriod(60_000, bufferMs, jitterMs))

/**
 * Rounds of a dead-server backoff that start within `x` ms of the first
 * failure: delays from 5 s doubling to 5 min, each at least half its nominal
 * length whatever the jitter.
 */
const backoffRounds = (x: number): number => {
  let rounds = 0
  let at = 0
  let delay = 5000
  for (;;) {
    at += delay / 2
    if (at > x) return rounds
    rounds++
    delay = Math.min(delay * 2, 300_000)
  }
}

/**
 * What one watched key may cost in the background over `x` ms of virtual
 * time in which nothing triggered it and its server kept answering one way.
 */
export const background = (
  traffic: Traffic,
  x: number,
  bufferMs: number,
  jitterMs: number,
): number => {
  if (x <= 0) return 0
  switch (traffic.tag) {
    case "healthy":
      return traffic.factor * Math.ceil(x / refreshPeriod(traffic.lifetimeMs, bufferMs, jitterMs))
    case "dead":
      return Math.min(
        ATTEMPTS * backoffRounds(x),
        healthyPerHour(bufferMs, jitterMs) * Math.ceil(x / HOUR),
      )
    case "permanent":
      return Math.floor((10 * x) / HOUR)
  }
}

/**
 * What the page says about its token, honestly: tok's events (`client.events`)
 * tell how many attempts failed and when the last one was, so a page can say
 * "retrying: attempt 3 failed, next try in about 1 s, still serving the cached
 * token with 9 s left" instead of a red "Error", and "Recovered after 8.4 s"
 * when a token comes back. Framework-free and pure: the controller
 * (`./page.ts`) feeds events into `trackEvent` and the page renders
 * `describeStatus`.
 * @module
 */
import type { TokenError, TokenEvent, TokenState } from "@tok/core"
import { describeError } from "./demo.ts"

/** The seconds of buffer the demo's clients keep (`expirationBuffer`): a token with less left is not handed out. */
export const DEMO_BUFFER_SECONDS = 5

/** One key's run of failures, as events tell it. */
export interface Outage {
  /** Local epoch ms of the first failed attempt of this run. */
  readonly since: number
  /** Failed attempts in this run. */
  readonly attempts: number
  /** The HTTP status of the last failed attempt, when there was an answer. */
  readonly status?: number | undefined
  /** The failure's reason ("server", "network", "timeout", "rate-limited"), when known. */
  readonly reason?: string | undefined
  /** Local epoch ms by which the next try comes, as far as the page can tell; `null`: it waits for a trigger. */
  readonly nextTryBy: number | null
  /** Requests of this run that failed for good (their retries spent). */
  readonly rounds: number
}

/** What the page knows of one key from events. */
export interface KeyTrack {
  readonly outage: Outage | null
  /** How long the last outage lasted (ms), and when it ended. */
  readonly recovered: { readonly afterMs: number; readonly at: number } | null
}

/** Every key's track, by template (`""`: the session token). */
export type Tracks = Readonly<Record<string, KeyTrack>>

/** tok's retry defaults (core README): full jitter from 250 ms, doubling, capped at 8 s. */
const attemptDelayCap = (attempt: number) => Math.min(8_000, 250 * 2 ** attempt)
/** After a request's retries are spent, a watcher tries again after 5 s, doubling (+ up to 20 %). */
const roundDelay = (rounds: number) => Math.min(300_000, 5_000 * 2 ** Math.max(0, rounds - 1)) * 1.2

const transientTags = new Set(["TokenSourceError", "TokenUnavailableError"])

/**
 * The tracks after `event`. Only events of `sessionId` count; a session event
 * clears every track.
 */
export const trackEvent = (tracks: Tracks, event: TokenEvent, sessionId: string | null): Tracks => {
  if (event.type === "session") return {}
  if (!("key" in event) || event.key.sessionId !== sessionId) return tracks
  const name = event.key.template ?? ""
  const track = tracks[name] ?? { outage: null, recovered: null }
  const outage = track.outage
  switch (event.type) {
    case "attempt-failed": {
      const next: Outage = {
        since: outage?.since ?? event.at,
        attempts: (outage?.attempts ?? 0) + 1,
        status: event.error.status,
        reason: event.error.reason,
        nextTryBy: event.retrying ? event.at + attemptDelayCap(event.attempt) : null,
        rounds: outage?.rounds ?? 0,
      }
      return { ...tracks, [name]: { ...track, outage: next } }
    }
    case "request-ended": {
      if (event.token !== undefined && !event.fenced) {
        return outage === null
          ? tracks
          : {
              ...tracks,
              [name]: {
                outage: null,
                recovered: { afterMs: event.at - outage.since, at: event.at },
              },
            }
      }
      if (event.error === undefined || outage === null) return tracks
      const rounds = outage.rounds + 1
      const transient = transientTags.has(event.error.tag)
      return {
        ...tracks,
        [name]: {
          ...track,
          outage: {
            ...outage,
            rounds,
            nextTryBy: transient ? event.at + roundDelay(rounds) : null,
          },
        },
      }
    }
    default:
      return tracks
  }
}

/** How the status reads. */
export type Tone = "ok" | "warn" | "bad" | "idle"

/** The status as the page shows it. */
export interface StatusView {
  /** A word or two: "Ready", "Retrying", "No token", "Signed out", … */
  readonly label: string
  readonly tone: Tone
  /** One sentence with the numbers, or `null`. */
  readonly detail: string | null
}

/** What `describeStatus` needs of the page's token. */
export interface TokenView {
  readonly status: TokenState["status"]
  readonly error: TokenError | null
  /** Local epoch ms the shown token expires at; `null` without one. */
  readonly expiresAt: number | null
}

const seconds = (ms: number) => `${Math.max(0, Math.ceil(ms / 1000))} s`
/** How long a "Recovered after …" stays on screen. */
export const RECOVERED_SHOWN_MS = 20_000

const failureWords = (outage: Outage): string => {
  const what =
    outage.status !== undefined
      ? `HTTP ${outage.status}`
      : outage.reason === "network"
        ? "no connection"
        : outage.reason === "timeout"
          ? "no answer in time"
          : "failed"
  return `attempt ${outage.attempts} ${what === "failed" ? "failed" : `failed (${what})`}`
}

const nextTryWords = (outage: Outage, now: number): string =>
  outage.nextTryBy === null
    ? "tok waits for a trigger (Refresh now, focus, back online)"
    : outage.nextTryBy <= now
      ? "trying again now"
      : `next try within ${seconds(outage.nextTryBy - now)}`

/**
 * The status in words. A failure while the shown token is still good is
 * "Retrying", not "Error": tok keeps serving that token, and the sentence
 * says for how long.
 */
export const describeStatus = (
  view: TokenView,
  track: KeyTrack | undefined,
  now: number,
): StatusView => {
  const outage = track?.outage ?? null
  const left = view.expiresAt === null ? 0 : view.expiresAt - now
  const serving =
    view.expiresAt !== null && left > 0
      ? `still serving the cached token, ${seconds(left)} left`
      : null
  switch (view.status) {
    case "signed-out":
      return { label: "Signed out", tone: "idle", detail: null }
    case "loading":
      return outage === null
        ? { label: "Getting a token…", tone: "warn", detail: null }
        : {
            label: "Retrying",
            tone: "warn",
            detail: `${failureWords(outage)}; ${nextTryWords(outage, now)}`,
          }
    case "ready": {
      if (outage !== null) {
        return {
          label: "Retrying",
          tone: "warn",
          detail: [failureWords(outage), nextTryWords(outage, now), serving]
            .filter((part) => part !== null)
            .join("; "),
        }
      }
      const recovered = track?.recovered
      if (recovered && now - recovered.at < RECOVERED_SHOWN_MS) {
        return {
          label: "Ready",
          tone: "ok",
          detail: `Recovered after ${(recovered.afterMs / 1000).toFixed(1)} s`,
        }
      }
      return { label: "Ready", tone: "ok", detail: null }
    }
    case "error": {
      const error = view.error
      const transient = error === null || error._tag === "TokenUnavailableError"
      if (transient && serving !== null) {
        return {
          label: "Retrying",
          tone: "warn",
          detail: [
            outage === null ? null : failureWords(outage),
            outage === null ? null : nextTryWords(outage, now),
            serving,
          ]
            .filter((part) => part !== null)
            .join("; "),
        }
      }
      const why = error === null ? "No token" : describeError(error)
      return {
        label: transient ? "No token" : "Error",
        tone: "bad",
        detail: outage !== null && transient ? `${why}; ${nextTryWords(outage, now)}` : why,
      }
    }
  }
}

import { describe, expect, it } from "vitest"
import { TokenUnavailableError, type TokenEvent } from "@tok/core"
import { describeStatus, trackEvent, type Tracks } from "../src/status.ts"

const key = { sessionId: "sess_1" }
const base = { instance: "page", key, requestId: 1 }
const failed = (
  at: number,
  attempt: number,
  retrying: boolean,
  sessionId = "sess_1",
): TokenEvent => ({
  ...base,
  key: { sessionId },
  type: "attempt-failed",
  at,
  attempt,
  retrying,
  error: { tag: "TokenSourceError", reason: "server", status: 503 },
})
const run = (events: TokenEvent[]): Tracks =>
  events.reduce<Tracks>((tracks, event) => trackEvent(tracks, event, "sess_1"), {})

describe("the status in words", () => {
  const unavailable = new TokenUnavailableError({ reason: "server", status: 503, attempts: 4 })

  it("a failure while the cached token is good is 'Retrying' with the attempt, the next try and the time left — not 'Error'", () => {
    const tracks = run([failed(1_000, 1, true), failed(1_300, 2, true)])
    const view = describeStatus(
      { status: "error", error: unavailable, expiresAt: 10_400 },
      tracks[""],
      1_400,
    )
    expect(view).toEqual({
      label: "Retrying",
      tone: "warn",
      detail:
        "attempt 2 failed (HTTP 503); next try within 1 s; still serving the cached token, 9 s left",
    })
  })

  it("a watcher still ready during a failed refresh says it is retrying too", () => {
    const tracks = run([failed(1_000, 1, true)])
    expect(
      describeStatus({ status: "ready", error: null, expiresAt: 20_000 }, tracks[""], 1_000).label,
    ).toBe("Retrying")
  })

  it("after the retries are spent it says when the next round comes", () => {
    const tracks = run([
      failed(1_000, 1, true),
      failed(2_000, 2, false),
      {
        ...base,
        type: "request-ended",
        at: 2_000,
        durationMs: 1_000,
        attempts: 2,
        origin: "network",
        fenced: false,
        error: { tag: "TokenUnavailableError", reason: "server", status: 503 },
      },
    ])
    const view = describeStatus(
      { status: "error", error: unavailable, expiresAt: null },
      tracks[""],
      3_000,
    )
    expect(view.label).toBe("No token")
    expect(view.tone).toBe("bad")
    expect(view.detail).toMatch(/^Token server unavailable — retrying .*; next try within 5 s$/)
  })

  it("a token after failures says how long the outage lasted", () => {
    const tracks = run([
      failed(1_000, 1, true),
      {
        ...base,
        type: "request-ended",
        at: 9_400,
        durationMs: 100,
        attempts: 1,
        origin: "network",
        fenced: false,
        token: { issuedAt: 9_400, expiresAt: 29_400 },
      },
    ])
    expect(
      describeStatus({ status: "ready", error: null, expiresAt: 29_400 }, tracks[""], 10_000),
    ).toEqual({ label: "Ready", tone: "ok", detail: "Recovered after 8.4 s" })
    // …for a while, then just "Ready".
    expect(
      describeStatus({ status: "ready", error: null, expiresAt: 60_000 }, tracks[""], 40_000)
        .detail,
    ).toBeNull()
  })

  it("events of another session, and a session change, leave no outage behind", () => {
    const other = trackEvent({}, failed(1, 1, true, "sess_2"), "sess_1")
    expect(other).toEqual({})
    const tracks = run([
      failed(1, 1, true),
      { type: "session", at: 2, instance: "page", sessionId: null },
    ])
    expect(tracks).toEqual({})
  })
})

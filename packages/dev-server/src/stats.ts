/**
 * Request counters, as `GET /__tok/stats` and `server.stats()` report them.
 * The admin API (`/__tok/*`) and CORS preflights are not counted.
 * @module
 */

/** Counts since the server started or was last reset. */
export interface DevServerStats {
  /** Every request counted, matched or not. */
  readonly requests: number
  /** Token requests that arrived (frontend and backend, faulted or not). */
  readonly tokenRequests: number
  /** Tokens signed and sent. */
  readonly tokensIssued: number
  /** Requests by route, keyed `"METHOD /pattern"` (e.g. `"POST /v1/client/sessions/:sid/tokens"`); `"unmatched"` for the rest. */
  readonly routes: { readonly [route: string]: number }
  /**
   * Token requests and issued tokens by session id, for sessions the server has (had) only.
   * Over HTTP only with the secret key (`GET /__tok/stats`); `?session=<id>` answers one.
   */
  readonly sessions: {
    readonly [sessionId: string]: { readonly tokenRequests: number; readonly tokensIssued: number }
  }
  /** Faults applied, by kind. */
  readonly faults: {
    readonly delayed: number
    readonly failed: number
    readonly dropped: number
    readonly malformed: number
    readonly noExp: number
  }
}

/** At most this many sessions are counted one by one; the rest only in the totals. */
const maxSessions = 10_000

/** The mutable counters of one server. */
export class StatsRecorder {
  #requests = 0
  #tokenRequests = 0
  #tokensIssued = 0
  #routes = new Map<string, number>()
  #sessions = new Map<string, { tokenRequests: number; tokensIssued: number }>()
  #faults = { delayed: 0, failed: 0, dropped: 0, malformed: 0, noExp: 0 }

  /** Counts a request for `route` (a `"METHOD /pattern"` key or `"unmatched"`). */
  request(route: string): void {
    this.#requests += 1
    this.#routes.set(route, (this.#routes.get(route) ?? 0) + 1)
  }

  /** Counts a token request; for its session too when `known` (the server has that session). */
  tokenRequest(sessionId: string, known: boolean): void {
    this.#tokenRequests += 1
    if (!known) return
    const entry = this.#session(sessionId)
    if (entry) entry.tokenRequests += 1
  }

  /** Counts a token signed and sent for a session. */
  tokenIssued(sessionId: string): void {
    this.#tokensIssued += 1
    const entry = this.#session(sessionId)
    if (entry) entry.tokensIssued += 1
  }

  /** Counts a fault applied. */
  fault(kind: keyof DevServerStats["faults"]): void {
    this.#faults[kind] += 1
  }

  /** A snapshot of the counters. */
  snapshot(): DevServerStats {
    return {
      requests: this.#requests,
      tokenRequests: this.#tokenRequests,
      tokensIssued: this.#tokensIssued,
      routes: Object.fromEntries(this.#routes),
      sessions: Object.fromEntries(
        [...this.#sessions].map(([id, counts]) => [id, { ...counts }] as const),
      ),
      faults: { ...this.#faults },
    }
  }

  /** One session's counts (zeros if none were counted). */
  session(sessionId: string): { readonly tokenRequests: number; readonly tokensIssued: number } {
    const entry = this.#sessions.get(sessionId)
    return { tokenRequests: entry?.tokenRequests ?? 0, tokensIssued: entry?.tokensIssued ?? 0 }
  }

  /** Sets every counter to zero. */
  reset(): void {
    this.#requests = 0
    this.#tokenRequests = 0
    this.#tokensIssued = 0
    this.#routes.clear()
    this.#sessions.clear()
    this.#faults = { delayed: 0, failed: 0, dropped: 0, malformed: 0, noExp: 0 }
  }

  #session(sessionId: string) {
    let entry = this.#sessions.get(sessionId)
    if (!entry && this.#sessions.size < maxSessions) {
      entry = { tokenRequests: 0, tokensIssued: 0 }
      this.#sessions.set(sessionId, entry)
    }
    return entry
  }
}

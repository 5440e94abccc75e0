/**
 * The timeline's model: `TokenEvent`s folded into one row per key — the
 * tokens' lives, the marks (requests, refreshes, failures, retries,
 * recoveries) and the hit rate — with nothing older than the window kept.
 * Plain data, no DOM: the element draws it, the tests read it.
 * @module
 */
import type { TokenEvent } from "@tok/core"

/** One token's life on a row. */
export interface Life {
  readonly issuedAt: number
  readonly expiresAt: number
  /** The buffer a watcher keeps (ms): the shaded end of the bar. */
  readonly bufferMillis: number
  /** The client that fetched it (or that a peer shared it with). */
  readonly instance: string
  /** `network`, or `peer` when another tab or instance shared it. */
  readonly origin: "network" | "peer"
}

/** What a mark on a row stands for. */
export type MarkKind = "request" | "refresh" | "failure" | "retry" | "recovery" | "shared"

/** A tick on a row. */
export interface Mark {
  readonly at: number
  readonly kind: MarkKind
  readonly instance: string
  /** A short human description (the tooltip). */
  readonly detail: string
}

/** A stretch of time in which this key's requests were failing: from the first failed attempt to the next token. */
export interface Outage {
  readonly from: number
  /** When a token came again; `undefined` while it is still failing. */
  to: number | undefined
}

/** One key's row. */
export interface Row {
  readonly id: string
  readonly label: string
  readonly lives: Array<Life>
  readonly marks: Array<Mark>
  /** Fault windows, shaded on the row. */
  readonly outages: Array<Outage>
  hits: number
  misses: number
  requests: number
  failures: number
  /** Whether the last request ended in failure (the next success is a recovery). */
  failing: boolean
  /** Which instances fetched on this row. */
  readonly instances: Set<string>
}

/** How much history a timeline keeps, and the buffer it assumes before a watcher says. */
export interface TimelineOptions {
  /** Milliseconds of history kept (default 120 000). */
  readonly windowMillis?: number | undefined
  /** The buffer shaded before a refresh event names one (default 10 000 ms). */
  readonly bufferMillis?: number | undefined
}

const SEP = "\u0000"

/** Where events land. */
export class Timeline {
  readonly rows = new Map<string, Row>()
  /** Milliseconds of history kept. */
  windowMillis: number
  private readonly defaultBuffer: number
  private readonly buffers = new Map<string, number>()
  /** The newest event time seen (the timeline's "now" without a clock). */
  latest = 0
  session: string | null = null

  constructor(options: TimelineOptions = {}) {
    this.windowMillis = options.windowMillis ?? 120_000
    this.defaultBuffer = options.bufferMillis ?? 10_000
  }

  private row(key: {
    readonly sessionId: string
    readonly template?: string | undefined
    readonly organizationId?: string | undefined
  }): Row {
    const id = key.sessionId + SEP + (key.template ?? "") + SEP + (key.organizationId ?? "")
    let row = this.rows.get(id)
    if (row === undefined) {
      const label =
        (key.template ?? "session token") +
        (key.organizationId === undefined ? "" : ` · org ${key.organizationId}`)
      row = {
        id,
        label,
        lives: [],
        marks: [],
        outages: [],
        hits: 0,
        misses: 0,
        requests: 0,
        failures: 0,
        failing: false,
        instances: new Set(),
      }
      this.rows.set(id, row)
    }
    return row
  }

  /** Folds one event in. */
  apply(event: TokenEvent): void {
    this.latest = Math.max(this.latest, event.at)
    switch (event.type) {
      case "session":
        this.session = event.sessionId
        return
      case "hit":
        this.row(event.key).hits++
        return
      case "miss":
        this.row(event.key).misses++
        return
      case "refresh": {
        const row = this.row(event.key)
        this.buffers.set(row.id, event.bufferMillis)
        return
      }
      case "request-started": {
        const row = this.row(event.key)
        row.requests++
        row.instances.add(event.instance)
        row.marks.push({
          at: event.at,
          kind: event.cause === "refresh" ? "refresh" : "request",
          instance: event.instance,
          detail: `${event.cause === "refresh" ? "refresh" : "request"} #${event.requestId}${
            event.skipCache ? " (skipCache)" : ""
          } by ${event.instance}`,
        })
        return
      }
      case "attempt-failed": {
        const row = this.row(event.key)
        openOutage(row, event.at)
        row.marks.push({
          at: event.at,
          kind: event.retrying ? "retry" : "failure",
          instance: event.instance,
          detail: `attempt ${event.attempt} failed: ${event.error.reason ?? event.error.tag}${
            event.error.status === undefined ? "" : ` (HTTP ${event.error.status})`
          }${event.retrying ? ", retrying" : ""}`,
        })
        return
      }
      case "request-ended": {
        const row = this.row(event.key)
        if (event.error !== undefined) {
          row.failures++
          row.failing = true
          openOutage(row, event.at)
          row.marks.push({
            at: event.at,
            kind: "failure",
            instance: event.instance,
            detail: `request #${event.requestId} failed: ${event.error.tag}${
              event.error.reason === undefined ? "" : ` (${event.error.reason})`
            } after ${event.attempts} attempt${event.attempts === 1 ? "" : "s"}`,
          })
          return
        }
        if (event.token !== undefined) {
          this.addLife(row, event.token, event.instance, event.origin)
          const outage = row.outages.at(-1)
          if (outage !== undefined && outage.to === undefined) {
            outage.to = event.at
            row.failing = false
            row.marks.push({
              at: event.at,
              kind: "recovery",
              instance: event.instance,
              detail: `recovered after ${seconds(event.at - outage.from)}: request #${
                event.requestId
              } after ${event.attempts} attempt${event.attempts === 1 ? "" : "s"}`,
            })
          }
        }
        return
      }
      case "shared": {
        const row = this.row(event.key)
        this.addLife(row, event.token, event.from, "peer")
        row.marks.push({
          at: event.at,
          kind: "shared",
          instance: event.instance,
          detail: `shared by ${event.from}`,
        })
        return
      }
      case "error":
        return
    }
  }

  private addLife(
    row: Row,
    token: { readonly issuedAt: number; readonly expiresAt: number },
    instance: string,
    origin: "network" | "peer",
  ): void {
    // The same token brought again (a joined or repeated answer) is one life.
    if (row.lives.some((l) => l.issuedAt === token.issuedAt && l.expiresAt === token.expiresAt)) {
      return
    }
    row.instances.add(instance)
    row.lives.push({
      issuedAt: token.issuedAt,
      expiresAt: token.expiresAt,
      bufferMillis: this.buffers.get(row.id) ?? this.defaultBuffer,
      instance,
      origin,
    })
  }

  /** Drops what ended before `now − window`. */
  prune(now: number): void {
    const from = now - this.windowMillis
    for (const row of this.rows.values()) {
      dropWhile(row.lives, (l) => l.expiresAt < from)
      dropWhile(row.marks, (m) => m.at < from)
      dropWhile(row.outages, (o) => o.to !== undefined && o.to < from)
    }
  }

  /** The token of `row` valid at `now`, if any (the newest one). */
  static current(row: Row, now: number): Life | undefined {
    for (let i = row.lives.length - 1; i >= 0; i--) {
      const life = row.lives[i]!
      if (life.issuedAt <= now && now < life.expiresAt) return life
    }
    return undefined
  }

  /** Hits over reads, or `undefined` before any read. */
  static hitRate(row: Row): number | undefined {
    const reads = row.hits + row.misses
    return reads === 0 ? undefined : row.hits / reads
  }
}

/** Starts a fault window on `row` unless one is open. */
const openOutage = (row: Row, at: number): void => {
  const last = row.outages.at(-1)
  if (last === undefined || last.to !== undefined) row.outages.push({ from: at, to: undefined })
}

/** `8.4 s` */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

const dropWhile = <A>(items: Array<A>, drop: (a: A) => boolean): void => {
  let n = 0
  while (n < items.length && drop(items[n]!)) n++
  if (n > 0) items.splice(0, n)
}

/**
 * The world a model-based history runs in: a scripted auth server (the
 * token source), a store that can be made to throw, and a wall clock that
 * can jump forward while timers stay put (a laptop waking from sleep).
 *
 * The server answers each request by the behaviour set for its session or
 * template, and keeps the records the invariants need: every request (per
 * key, on the virtual clock), every JWT it delivered (with the event number
 * of the request that delivered it), and every 401 (a session that ended).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Clock from "effect/Clock"
import type { TestClock } from "effect/testing"
import { TokenCache, TokenSource, TokenSourceError, type Token, type TokenRequest } from "@tok/core"
import { fakeJwt } from "@tok/core/testing"

/** How the server answers a session or a template. */
export type Behaviour =
  /** Mint a fresh token of this lifetime (s), after a delay (ms). */
  | { readonly kind: "ok"; readonly lifetime: number; readonly delay: number }
  /** Fail `failures` attempts, then mint (per key, cyclic): 503, network or 429 with Retry-After. */
  | {
      readonly kind: "flaky"
      readonly failures: number
      readonly status: number | undefined
      readonly retryAfterMs?: number | undefined
    }
  /** A dead or overloaded server: every attempt fails transiently (or never answers). */
  | {
      readonly kind: "dead"
      readonly how: "503" | "network" | "hang" | "slow" | "429" | "429-long"
    }
  /** Fails for good. */
  | { readonly kind: "permanent"; readonly status: 400 | 403 | 404 | 422 }
  /** A 2xx that is not a usable token. */
  | { readonly kind: "malformed"; readonly how: "garbage" | "backwards" | "no-exp" | "huge-exp" }
  /** The session has ended on the server. */
  | { readonly kind: "unauthorized" }
  /** A caching proxy: answers the key's last JWT while the server holds it valid. */
  | { readonly kind: "repeat"; readonly lifetime: number }

/** The default: a healthy server minting 60 s tokens at once. */
export const HEALTHY: Behaviour = { kind: "ok", lifetime: 60, delay: 0 }

/** Where a behaviour applies: one session, or one template ("" = the session token). */
export type Scope = { readonly session: string } | { readonly template: string }

/** A key as the model names it. */
export const keyName = (
  sessionId: string,
  template: string | undefined,
  organizationId: string | undefined,
): string => `${sessionId}|${template ?? ""}|${organizationId ?? ""}`

/** What the server knows of a JWT it delivered. */
export interface JwtInfo {
  readonly sessionId: string
  readonly key: string
  /** Event numbers of the requests that delivered it (a proxy repeats one). */
  readonly starts: Array<number>
  /** Its `exp` claim (s). */
  readonly exp: number
}

/**
 * Above this many requests in one history the server stops answering (a
 * storm: the test would spin). Healthy 5 s tokens under a 10 s buffer are
 * refreshed at half their life: 1,440 requests a key an hour, so a few keys
 * over an hour legitimately pass 3,000.
 */
export const STORM_CAP = 20_000

/** A wall clock over the `TestClock`: `jump` moves it forward without firing any timer. */
export interface JumpClock {
  readonly clock: Clock.Clock
  /** Virtual time elapsed on timers (ms): what retry budgets and rates are measured in. */
  readonly virtual: () => number
  /** Wall time (ms): what the client and the server read. */
  readonly wall: () => number
  readonly jump: (ms: number) => void
}

export const makeJumpClock = (test: TestClock.TestClock): JumpClock => {
  let offset = 0
  const wall = () => test.currentTimeMillisUnsafe() + offset
  const clock: Clock.Clock = {
    currentTimeMillisUnsafe: wall,
    currentTimeMillis: Effect.sync(wall),
    currentTimeNanosUnsafe: () => BigInt(wall()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(wall()) * 1_000_000n),
    monotonicTimeNanosUnsafe: () => test.monotonicTimeNanosUnsafe(),
    monotonicTimeNanos: test.monotonicTimeNanos,
    sleep: (duration) => test.sleep(duration),
  }
  return {
    clock,
    virtual: () => test.currentTimeMillisUnsafe(),
    wall,
    jump: (ms) => void (offset += ms),
  }
}

/** The scripted server and store of one history. */
export class World {
  /** Event counter shared with the model: orders requests, answers and session ends. */
  seq = 0
  readonly bySession = new Map<string, Behaviour>()
  readonly byTemplate = new Map<string, Behaviour>()
  /** Virtual times of the requests for each key. */
  readonly requests = new Map<string, Array<number>>()
  total = 0
  storm = false
  readonly jwts = new Map<string, JwtInfo>()
  /** 401s answered: the session ended then. */
  readonly unauthorized: Array<{
    readonly sessionId: string
    readonly seq: number
    readonly wall: number
  }> = []
  /** The store's contents, read without touching its recency. */
  private inner: TokenCache.Service | undefined
  /** What the store saw go wrong since the last check (a held JWT's life extended). */
  readonly problems: Array<string> = []
  /** What the client logged since the last check. */
  readonly logs: Array<string> = []
  /** The client's current session, as the model knows it. */
  current: string | null = null
  storeThrows = false
  /** The store threw at least once: defects are then expected answers. */
  storeThrew = false
  private readonly proxy = new Map<string, { readonly jwt: string; readonly expMs: number }>()
  private readonly flaky = new Map<string, number>()
  private minted = 0

  readonly clock: JumpClock
  readonly skewMs: number
  readonly latencyMs: number

  constructor(clock: JumpClock, skewMs: number, latencyMs: number) {
    this.clock = clock
    this.skewMs = skewMs
    this.latencyMs = latencyMs
  }

  behaviourFor(sessionId: string, template: string | undefined): Behaviour {
    return this.bySession.get(sessionId) ?? this.byTemplate.get(template ?? "") ?? HEALTHY
  }

  setBehaviour(scope: Scope, behaviour: Behaviour): void {
    const map = "session" in scope ? this.bySession : this.byTemplate
    const name = "session" in scope ? scope.session : scope.template
    if (
      behaviour === HEALTHY ||
      (behaviour.kind === "ok" && behaviour.lifetime === 60 && behaviour.delay === 0)
    ) {
      map.delete(name)
    } else {
      map.set(name, behaviour)
    }
  }

  /** The token the client's store holds for the model's `key`, if any. */
  held(key: string): Token | undefined {
    for (const [, token] of this.inner?.entries() ?? []) {
      if (keyName(token.sessionId, token.template, token.organizationId) === key) return token
    }
    return undefined
  }

  requestsOf(key: string): number {
    return this.requests.get(key)?.length ?? 0
  }

  /** The source, as the client sees it. */
  readonly layer: Layer.Layer<TokenSource.TokenSource> = TokenSource.fromFunction((request) =>
    Effect.suspend(() => this.fetch(request)),
  )

  private fetch(request: TokenRequest): Effect.Effect<string, TokenSourceError> {
    const key = keyName(request.sessionId, request.template, request.organizationId)
    const start = ++this.seq
    let times = this.requests.get(key)
    if (times === undefined) this.requests.set(key, (times = []))
    times.push(this.clock.virtual())
    if (++this.total > STORM_CAP) {
      this.storm = true
      return Effect.never
    }
    const behaviour = this.behaviourFor(request.sessionId, request.template)
    // Every answer takes the server's latency; a slow behaviour takes longer.
    const delay = Math.max(
      this.latencyMs,
      behaviour.kind === "ok"
        ? behaviour.delay
        : behaviour.kind === "dead" && behaviour.how === "slow"
          ? 12_000
          : 0,
    )
    const answer = Effect.suspend(() => this.answer(behaviour, request, key, start))
    return delay > 0 ? Effect.andThen(Effect.sleep(Duration.millis(delay)), answer) : answer
  }

  private answer(
    behaviour: Behaviour,
    request: TokenRequest,
    key: string,
    start: number,
  ): Effect.Effect<string, TokenSourceError> {
    const fail = (status: number | undefined, retryAfterMs?: number) =>
      Effect.fail(
        new TokenSourceError({ status, retryAfterMs, message: `model: ${status ?? "network"}` }),
      )
    switch (behaviour.kind) {
      case "ok":
        return Effect.succeed(this.mint(request, key, start, behaviour.lifetime))
      case "flaky": {
        const count = this.flaky.get(key) ?? 0
        this.flaky.set(key, count + 1)
        return count % (behaviour.failures + 1) < behaviour.failures
          ? fail(behaviour.status, behaviour.retryAfterMs)
          : Effect.succeed(this.mint(request, key, start, 60))
      }
      case "dead":
        switch (behaviour.how) {
          case "503":
            return fail(503)
          case "network":
            return fail(undefined)
          case "hang":
            return Effect.never
          case "slow":
            return Effect.succeed(this.mint(request, key, start, 60))
          case "429":
            return fail(429, 3000)
          case "429-long":
            return fail(429, 60_000)
        }
      // eslint-disable-next-line no-fallthrough
      case "permanent":
        return fail(behaviour.status)
      case "unauthorized":
        this.unauthorized.push({
          sessionId: request.sessionId,
          seq: ++this.seq,
          wall: this.clock.wall(),
        })
        return fail(401)
      case "malformed": {
        const iat = this.serverSeconds()
        const base = { sid: request.sessionId, iat, n: ++this.minted }
        const jwt =
          behaviour.how === "garbage"
            ? "not-a-jwt"
            : behaviour.how === "backwards"
              ? fakeJwt({ ...base, exp: iat - 10 })
              : behaviour.how === "no-exp"
                ? fakeJwt(base)
                : fakeJwt({ ...base, exp: 1e308 })
        this.jwts.set(jwt, { sessionId: request.sessionId, key, starts: [start], exp: Infinity })
        return Effect.succeed(jwt)
      }
      case "repeat": {
        const held = this.proxy.get(key)
        const serverNow = this.clock.wall() + this.skewMs
        if (held !== undefined && serverNow < held.expMs) {
          this.jwts.get(held.jwt)?.starts.push(start)
          return Effect.succeed(held.jwt)
        }
        const jwt = this.mint(request, key, start, behaviour.lifetime)
        this.proxy.set(key, { jwt, expMs: this.jwts.get(jwt)!.exp * 1000 })
        return Effect.succeed(jwt)
      }
    }
  }

  private serverSeconds(): number {
    return Math.floor((this.clock.wall() + this.skewMs) / 1000)
  }

  private mint(request: TokenRequest, key: string, start: number, lifetime: number): string {
    const iat = this.serverSeconds()
    const jwt = fakeJwt({
      sub: `user_of_${request.sessionId}`,
      sid: request.sessionId,
      iat,
      nbf: iat,
      exp: iat + lifetime,
      n: ++this.minted,
      ...(request.template === undefined ? {} : { tpl: request.template }),
      ...(request.organizationId === undefined ? {} : { org_id: request.organizationId }),
    })
    const info: JwtInfo = {
      sessionId: request.sessionId,
      key,
      starts: [start],
      exp: iat + lifetime,
    }
    this.jwts.set(jwt, info)
    return jwt
  }

  /** An in-memory store that throws on `set` while `storeThrows` is on. */
  readonly cacheLayer: Layer.Layer<TokenCache.TokenCache> = Layer.sync(
    TokenCache.TokenCache,
    () => {
      const inner = TokenCache.make()
      this.inner = inner
      return {
        ...inner,
        set: (key: string, token: Token) => {
          if (this.storeThrows) {
            this.storeThrew = true
            throw new Error("model: the store is full")
          }
          for (const [k, held] of inner.entries()) {
            if (k === key && held.jwt === token.jwt && token.expiresAt > held.expiresAt) {
              this.problems.push(
                `the client stored a JWT it held with its expiry moved ${token.expiresAt - held.expiresAt} ms later`,
              )
            }
          }
          inner.set(key, token)
        },
      }
    },
  )
}

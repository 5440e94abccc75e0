/**
 * Runs one history against a real `TokenClient` under `TestClock`, and
 * checks DESIGN §2's guarantees after every step:
 *
 * - `session`: no caller or watcher receives a token of a session that had
 *   ended when it asked (or since the token's request started), nor a token
 *   of another session, template or organization than it asked for;
 * - `buffer`: no caller receives a token inside its buffer (a fresh token
 *   that lives less than the buffer, or a JWT the server repeated, may be
 *   handed to the callers of its request), nobody an expired one, and a JWT
 *   the client holds never has its expiry moved later by a repeat;
 * - `fresh`: a `skipCache` caller gets a token from a request that started
 *   after it asked (§2.2);
 * - `answered`: every caller, and every `refresh()`, is answered within the
 *   retry budget in virtual time, with a token or a typed error;
 * - `secret`: no error a caller gets, and no line the client logs, shows
 *   a JWT (§2.6);
 * - `traffic`: requests per key stay within §2.4's bounds, scaled to the
 *   virtual time the history covers (see `budget.ts`);
 * - `teardown`: after the last unsubscribe no key is watched, and once the
 *   requests in flight had time to end no fiber runs; after `dispose()`
 *   nothing is left at all.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import { isTokenError, Lifecycle, type Token, TokenClient, type TokenWatcher } from "@tok/core"
import type { TokenState } from "@tok/core"
import { inspectClient, makeTestLifecycle, type TestLifecycle } from "@tok/core/testing"
import { background, perTrigger, RETRY_BUDGET, type Traffic, trafficOf } from "./budget.ts"
import type { History, SessionId, Step } from "./history.ts"
import { type JumpClock, keyName, makeJumpClock, World } from "./world.ts"

/** The invariants, by name. */
export type Invariant =
  "session" | "buffer" | "fresh" | "answered" | "secret" | "traffic" | "teardown"

export const INVARIANTS: ReadonlyArray<Invariant> = [
  "session",
  "buffer",
  "fresh",
  "answered",
  "secret",
  "traffic",
  "teardown",
]

/** An invariant that did not hold, and where. */
export class Violation extends Error {
  readonly invariant: Invariant
  constructor(invariant: Invariant, detail: string) {
    super(`[${invariant}] ${detail}`)
    this.invariant = invariant
  }
}

const SESSIONS: ReadonlyArray<SessionId> = ["s1", "s2", "s3"]
const TEMPLATES: ReadonlyArray<string | undefined> = [undefined, "a", "b"]
const ORGS: ReadonlyArray<string | undefined> = [undefined, "o"]
const ALL_KEYS = SESSIONS.flatMap((s) =>
  TEMPLATES.flatMap((t) => ORGS.map((o) => ({ key: keyName(s, t, o), s, t, o }))),
)
const partsOf = new Map(ALL_KEYS.map((k) => [k.key, k]))

const clampBuffer = (seconds: number): number => Math.min(60, Math.max(0, seconds)) * 1000

interface Caller {
  readonly n: number
  /** The event number when it asked. */
  readonly asked: number
  readonly step: Extract<Step, { t: "get" }>
  readonly bufferMs: number
  deadline: number
  done: boolean
  aborted: boolean
  fiber: Fiber.Fiber<void> | undefined
}

interface Handle {
  readonly watcher: TokenWatcher
  /** The engine's identity of a watch: handles of one id share a refresher. */
  readonly id: string
  readonly sid: SessionId | undefined
  readonly tpl: string | undefined
  readonly org: string | undefined
  readonly bufferMs: number
}

interface Subscription {
  readonly handle: Handle
  readonly stop: () => void
  active: boolean
}

interface Segment {
  readonly key: string
  readonly sig: string
  readonly traffic: Traffic
  readonly bufferMs: number
  readonly start: number
}

interface Refresh {
  readonly handle: Handle
  deadline: number
  done: boolean
}

class Model {
  current: string | null
  /** Session ends by sign-out or switch (401s are in `world.unauthorized`). */
  private readonly ends: Array<{ sessionId: string; seq: number; wall: number }> = []
  private readonly callers: Array<Caller> = []
  private readonly handles: Array<Handle> = []
  private readonly subscriptions: Array<Subscription> = []
  private readonly refreshes: Array<Refresh> = []
  /** Request allowance per key: triggers, grants and closed background segments. */
  private readonly budget = new Map<string, number>()
  private readonly triggers = new Map<string, Array<number>>()
  private readonly segments = new Map<string, Segment>()
  /** Watch ids triggered during the current step (their background restarts). */
  private readonly touched = new Set<string>()
  private readonly violations: Array<Violation> = []
  private visible = true
  private online = true
  private lastActivity = 0
  private unauthorizedSeen = 0
  disposed = false

  readonly history: History
  readonly world: World
  readonly clock: JumpClock
  readonly tok: TokenClient.Service
  readonly lifecycle: TestLifecycle

  constructor(
    history: History,
    world: World,
    clock: JumpClock,
    tok: TokenClient.Service,
    lifecycle: TestLifecycle,
  ) {
    this.history = history
    this.world = world
    this.clock = clock
    this.tok = tok
    this.lifecycle = lifecycle
    this.current = history.session
    world.current = history.session
  }

  private violate(invariant: Invariant, detail: string): void {
    this.violations.push(new Violation(invariant, detail))
  }

  // --- traffic accounting ---------------------------------------------------

  private trafficOfKey(key: string): Traffic {
    const parts = partsOf.get(key)!
    return trafficOf(this.world.behaviourFor(parts.s, parts.t), this.world.storeThrows)
  }

  private grant(key: string, requests: number): void {
    this.budget.set(key, (this.budget.get(key) ?? 0) + requests)
  }

  /** Something that may start one request (with its retries) for `key`. */
  private trigger(key: string): void {
    const parts = partsOf.get(key)!
    this.grant(key, perTrigger(this.world.behaviourFor(parts.s, parts.t), this.world.storeThrows))
    let log = this.triggers.get(key)
    if (log === undefined) this.triggers.set(key, (log = []))
    log.push(this.clock.virtual())
  }

  /** A watch's key: its explicit session's, or the current session's (none when signed out). */
  private keyOfHandle(handle: Handle): string | undefined {
    const session = handle.sid ?? this.current
    return session === null ? undefined : keyName(session, handle.tpl, handle.org)
  }

  private activeHandles(): Map<string, Handle> {
    const active = new Map<string, Handle>()
    for (const sub of this.subscriptions) if (sub.active) active.set(sub.handle.id, sub.handle)
    return active
  }

  private triggerWatch(handle: Handle): void {
    const key = this.keyOfHandle(handle)
    if (key !== undefined) this.trigger(key)
    this.touched.add(handle.id)
  }

  /**
   * The server changed how it answers some keys, or the store started or
   * stopped throwing: each request in flight for them (one per recent
   * trigger and per watcher, at most) may now cost what a new one does.
   */
  private changed(before: Map<string, string>): void {
    const now = this.clock.virtual()
    const active = [...this.activeHandles().values()]
    for (const { key } of ALL_KEYS) {
      if (before.get(key) === JSON.stringify(this.trafficOfKey(key))) continue
      const recent = (this.triggers.get(key) ?? []).filter((t) => t > now - RETRY_BUDGET).length
      const watching = active.filter((h) => this.keyOfHandle(h) === key).length
      const parts = partsOf.get(key)!
      const each = perTrigger(this.world.behaviourFor(parts.s, parts.t), this.world.storeThrows)
      this.grant(key, each * (1 + recent + watching))
    }
  }

  private trafficSnapshot(): Map<string, string> {
    return new Map(ALL_KEYS.map(({ key }) => [key, JSON.stringify(this.trafficOfKey(key))]))
  }

  /** Closes and opens background segments after a step. */
  private updateSegments(): void {
    const now = this.clock.virtual()
    const active = this.activeHandles()
    const close = (id: string, segment: Segment) => {
      this.grant(
        segment.key,
        background(segment.traffic, now - segment.start, segment.bufferMs, this.history.jitter),
      )
      this.segments.delete(id)
    }
    for (const [id, segment] of [...this.segments]) {
      if (!active.has(id)) close(id, segment)
    }
    for (const [id, handle] of active) {
      const key = this.keyOfHandle(handle)
      const segment = this.segments.get(id)
      const traffic = key === undefined ? undefined : this.trafficOfKey(key)
      const sig = `${key}/${JSON.stringify(traffic)}`
      if (segment !== undefined && segment.sig === sig && !this.touched.has(id)) continue
      if (segment !== undefined) close(id, segment)
      if (key !== undefined && traffic !== undefined) {
        this.segments.set(id, { key, sig, traffic, bufferMs: handle.bufferMs, start: now })
      }
    }
    this.touched.clear()
  }

  private allowance(key: string): number {
    const now = this.clock.virtual()
    let total = this.budget.get(key) ?? 0
    for (const segment of this.segments.values()) {
      if (segment.key === key) {
        total += background(
          segment.traffic,
          now - segment.start,
          segment.bufferMs,
          this.history.jitter,
        )
      }
    }
    return total
  }

  // --- what callers and watchers receive -------------------------------------

  /** The session ends since event `seq` (sign-out, switch, 401). */
  private endedSince(sessionId: string, seq: number, settled: boolean): boolean {
    const wall = this.clock.wall()
    for (const end of this.ends) {
      if (end.sessionId === sessionId && end.seq > seq) return true
    }
    for (const end of this.world.unauthorized) {
      // A 401 is seen by the client a moment after the server answers it: in
      // the middle of a run, only an earlier virtual instant counts.
      if (end.sessionId === sessionId && end.seq > seq && (settled || end.wall < wall)) return true
    }
    return false
  }

  /** Checks a token someone received: whose it is, and when it ends. */
  private checkToken(
    who: string,
    token: Token,
    want: { sessionId: string | null; tpl: string | undefined; org: string | undefined },
    settled: boolean,
  ): void {
    const info = this.world.jwts.get(token.jwt)
    if (info === undefined)
      return this.violate("session", `${who} got a JWT the server never issued`)
    if (token.sessionId !== want.sessionId || info.sessionId !== token.sessionId) {
      return this.violate(
        "session",
        `${who} asked for session ${want.sessionId} and got a token of ${info.sessionId} (labelled ${token.sessionId})`,
      )
    }
    if (info.key !== keyName(token.sessionId, want.tpl, want.org)) {
      return this.violate(
        "session",
        `${who} asked for ${keyName(token.sessionId, want.tpl, want.org)} and got one of ${info.key}`,
      )
    }
    const start = info.starts.at(-1)!
    if (this.endedSince(token.sessionId, start, settled)) {
      return this.violate(
        "session",
        `${who} holds a token of ${token.sessionId}, a session that ended after the token's request started`,
      )
    }
    if (!Number.isFinite(token.expiresAt) || !(token.expiresAt > token.issuedAt)) {
      return this.violate("buffer", `${who} got a token with expiresAt ${token.expiresAt}`)
    }
    if (this.clock.wall() >= token.expiresAt) {
      return this.violate(
        "buffer",
        `${who} got a token that expired ${this.clock.wall() - token.expiresAt} ms ago`,
      )
    }
    // A JWT the client holds keeps the expiry it was given when first
    // received: a server repeating it never extends its life.
    const held = this.world.held(info.key)
    if (held !== undefined && held.jwt === token.jwt && token.expiresAt > held.expiresAt) {
      return this.violate(
        "buffer",
        `${who} got a JWT the client holds with its expiry moved ${token.expiresAt - held.expiresAt} ms later`,
      )
    }
  }

  private answered(caller: Caller, exit: Exit.Exit<Token, unknown>): void {
    caller.done = true
    const who = `caller #${caller.n} (${JSON.stringify(caller.step)})`
    const late = this.clock.virtual() - caller.deadline
    if (late > 0) this.violate("answered", `${who} was answered ${late} ms past its retry budget`)
    if (Exit.isSuccess(exit)) {
      const token = exit.value
      const sessionId = caller.step.sid ?? this.current
      this.checkToken(who, token, { sessionId, tpl: caller.step.tpl, org: caller.step.org }, false)
      const fetched = this.world.jwts.get(token.jwt)?.starts.at(-1) ?? 0
      if (caller.step.skip === true && (token.source !== "network" || fetched < caller.asked)) {
        this.violate(
          "fresh",
          `${who} skipped the cache and got a token from a request that started before it asked`,
        )
      }
      const now = this.clock.wall()
      if (now + caller.bufferMs < token.expiresAt) return
      const info = this.world.jwts.get(token.jwt)
      const degenerate = token.expiresAt - token.issuedAt <= caller.bufferMs
      const repeated = (info?.starts.length ?? 0) > 1
      if (token.source === "network" && (degenerate || repeated)) return
      return this.violate(
        "buffer",
        `${who} got a ${token.source} token with ${token.expiresAt - now} ms left, inside its buffer of ${caller.bufferMs} ms`,
      )
    }
    const cause = exit.cause
    if (Cause.hasInterruptsOnly(cause)) {
      if (!caller.aborted && !this.disposed) this.violate("answered", `${who} was interrupted`)
      return
    }
    if (Cause.hasDies(cause)) {
      if (!this.world.storeThrew) this.violate("answered", `${who} died: ${Cause.pretty(cause)}`)
      return
    }
    const error = Cause.findErrorOption(cause)
    if (error._tag === "None" || !isTokenError(error.value)) {
      return this.violate("answered", `${who} failed with something that is not a TokenError`)
    }
    const text = `${String(error.value)} ${error.value.message} ${JSON.stringify(error.value)}`
    if (this.leaks(text)) this.violate("secret", `${who} got an error that shows a JWT`)
  }

  /** Whether `text` contains a JWT the server issued (DESIGN §2.6). */
  private leaks(text: string): boolean {
    for (const jwt of this.world.jwts.keys()) {
      if (jwt.includes(".") && text.includes(jwt)) return true
    }
    return false
  }

  private checkState(handle: Handle, state: TokenState, settled: boolean): void {
    const token = (state as { readonly token?: Token | undefined }).token
    if (token === undefined) return
    const who = `watcher ${JSON.stringify({ sid: handle.sid, tpl: handle.tpl, org: handle.org, buf: handle.bufferMs })} (${state.status})`
    this.checkToken(
      who,
      token,
      { sessionId: handle.sid ?? this.current, tpl: handle.tpl, org: handle.org },
      settled,
    )
  }

  // --- steps -----------------------------------------------------------------

  apply(step: Step): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (step.t !== "wait") this.lastActivity = this.clock.virtual()
      switch (step.t) {
        case "session":
          return Effect.suspend(() => this.setSession(step.id))
        case "get":
          return this.get(step)
        case "abort": {
          const pending = this.callers.filter((c) => !c.done && c.fiber !== undefined)
          if (pending.length === 0) return Effect.void
          const caller = pending[step.i % pending.length]!
          caller.aborted = true
          return Effect.andThen(
            Fiber.interrupt(caller.fiber!),
            Effect.sync(() => void (caller.done = true)),
          )
        }
        case "watch":
          return this.watch(step)
        case "unsub": {
          const active = this.subscriptions.filter((s) => s.active)
          if (active.length > 0) {
            const sub = active[step.i % active.length]!
            sub.active = false
            sub.stop()
          }
          return Effect.void
        }
        case "refresh": {
          if (this.handles.length === 0) return Effect.void
          const handle = this.handles[step.i % this.handles.length]!
          this.triggerWatch(handle)
          const refresh: Refresh = {
            handle,
            deadline: this.clock.virtual() + 2 * RETRY_BUDGET,
            done: false,
          }
          this.refreshes.push(refresh)
          void handle.watcher.refresh().then(
            () => void (refresh.done = true),
            () => {
              refresh.done = true
              this.violate("answered", "refresh() rejected")
            },
          )
          return Effect.void
        }
        case "invalidate": {
          const f = step.f
          const org = f?.organizationId === "" ? undefined : f?.organizationId
          for (const handle of this.activeHandles().values()) {
            const key = this.keyOfHandle(handle)
            if (key === undefined) continue
            const parts = partsOf.get(key)!
            if (f?.sessionId !== undefined && f.sessionId !== parts.s) continue
            if (f?.template !== undefined && f.template !== parts.t) continue
            if (f?.organizationId !== undefined && org !== parts.o) continue
            this.triggerWatch(handle)
          }
          return Effect.orDie(this.tok.invalidate(f))
        }
        case "life":
          return Effect.sync(() => this.life(step.e))
        case "wait":
          return Effect.void
        case "jump":
          this.clock.jump(step.ms)
          for (const handle of this.activeHandles().values()) this.triggerWatch(handle)
          return Effect.void
        case "behave": {
          const before = this.trafficSnapshot()
          this.world.setBehaviour(step.on, step.b)
          this.changed(before)
          return Effect.void
        }
        case "store": {
          const before = this.trafficSnapshot()
          this.world.storeThrows = step.throws
          this.changed(before)
          return Effect.void
        }
      }
    })
  }

  private setSession(id: SessionId | null): Effect.Effect<void> {
    if (id === this.current) return Effect.void
    if (this.current !== null) {
      this.ends.push({ sessionId: this.current, seq: ++this.world.seq, wall: this.clock.wall() })
    }
    this.current = id
    this.world.current = id
    const now = this.clock.virtual()
    for (const caller of this.callers) {
      if (caller.done || caller.step.sid !== undefined) continue
      // Asked for the current session: answered for the new one, afresh.
      caller.deadline = Math.max(caller.deadline, now + RETRY_BUDGET)
      if (id !== null) this.trigger(keyName(id, caller.step.tpl, caller.step.org))
    }
    const active = this.activeHandles()
    for (const handle of active.values()) {
      if (handle.sid === undefined) this.triggerWatch(handle)
    }
    for (const refresh of this.refreshes) {
      const handle = refresh.handle
      if (refresh.done || handle.sid !== undefined || active.has(handle.id)) continue
      // A refresh() of a handle nobody subscribes to waits like a caller of
      // the current session: it is answered for the new one, afresh.
      refresh.deadline = Math.max(refresh.deadline, now + 2 * RETRY_BUDGET)
      this.triggerWatch(handle)
    }
    return this.tok.setSession(id)
  }

  private get(step: Extract<Step, { t: "get" }>): Effect.Effect<void> {
    const session = step.sid ?? this.current
    if (session !== null) this.trigger(keyName(session, step.tpl, step.org))
    const caller: Caller = {
      n: this.callers.length,
      asked: ++this.world.seq,
      step,
      bufferMs: clampBuffer(step.buf ?? this.history.buffer),
      deadline: this.clock.virtual() + RETRY_BUDGET,
      done: false,
      aborted: false,
      fiber: undefined,
    }
    this.callers.push(caller)
    const options = {
      template: step.tpl,
      organizationId: step.org,
      expirationBuffer: step.buf,
      skipCache: step.skip,
      sessionId: step.sid,
    }
    return Effect.map(
      Effect.forkChild(
        Effect.map(Effect.exit(this.tok.getToken(options)), (exit) => this.answered(caller, exit)),
      ),
      (fiber) => void (caller.fiber = fiber),
    )
  }

  private watch(step: Extract<Step, { t: "watch" }>): Effect.Effect<void> {
    return Effect.map(
      Effect.orDie(
        this.tok.watch({
          template: step.tpl,
          organizationId: step.org,
          expirationBuffer: step.buf,
          sessionId: step.sid,
        }),
      ),
      (watcher) => {
        const bufferMs = clampBuffer(step.buf ?? this.history.buffer)
        const handle: Handle = {
          watcher,
          id: `${step.sid ?? ""}|${step.tpl ?? ""}|${step.org ?? ""}|${bufferMs}`,
          sid: step.sid,
          tpl: step.tpl,
          org: step.org,
          bufferMs,
        }
        this.handles.push(handle)
        if (!this.activeHandles().has(handle.id)) this.triggerWatch(handle)
        const stop = watcher.subscribe((state) => this.checkState(handle, state, false))
        this.subscriptions.push({ handle, stop, active: true })
      },
    )
  }

  private life(event: "hide" | "show" | "offline" | "online" | "focus"): void {
    const resumes =
      event === "focus" ||
      (event === "show" && !this.visible) ||
      (event === "online" && !this.online)
    if (event === "hide" || event === "show") {
      this.visible = event === "show"
      this.lifecycle.setVisible(this.visible)
    } else if (event === "offline" || event === "online") {
      this.online = event === "online"
      this.lifecycle.setOnline(this.online)
    } else {
      this.lifecycle.focus()
    }
    if (resumes) for (const handle of this.activeHandles().values()) this.triggerWatch(handle)
  }

  // --- checks after each step ------------------------------------------------

  /** The first invariant that does not hold now, if any. */
  check(only: ReadonlySet<Invariant>): Effect.Effect<Violation | undefined> {
    return Effect.map(this.tok.session.get, (session) => {
      // A 401 for the current session signs it out; nothing else may change it.
      if (session !== this.current) {
        const ended = this.world.unauthorized
          .slice(this.unauthorizedSeen)
          .some((u) => u.sessionId === this.current)
        if (session === null && ended) this.current = this.world.current = null
        else
          this.violate(
            "session",
            `the client's session became ${session}; the model's is ${this.current}`,
          )
      }
      this.unauthorizedSeen = this.world.unauthorized.length
      for (const handle of this.handles) this.checkState(handle, handle.watcher.getSnapshot(), true)
      const now = this.clock.virtual()
      for (const caller of this.callers) {
        if (!caller.done && now > caller.deadline) {
          this.violate(
            "answered",
            `caller #${caller.n} (${JSON.stringify(caller.step)}) still waits ${now - caller.deadline} ms past its retry budget`,
          )
        }
      }
      for (const refresh of this.refreshes) {
        if (!refresh.done && now > refresh.deadline) {
          this.violate(
            "answered",
            `a refresh() still waits ${now - refresh.deadline} ms past its budget`,
          )
        }
      }
      for (const problem of this.world.problems.splice(0)) this.violate("buffer", problem)
      for (const line of this.world.logs.splice(0)) {
        if (this.leaks(line)) this.violate("secret", "a log line shows a JWT")
      }
      this.updateSegments()
      if (this.world.storm) {
        this.violate(
          "traffic",
          `a request storm: the server stopped answering after ${this.world.total - 1} requests`,
        )
      }
      for (const [key, times] of this.world.requests) {
        const allowed = this.allowance(key)
        if (times.length > allowed) {
          this.violate(
            "traffic",
            `${times.length} requests for ${key} where §2.4 allows ${allowed} (server: ${JSON.stringify(this.trafficOfKey(key))}; last at ${times.slice(-5).join(", ")} ms)`,
          )
        }
      }
      const activity = inspectClient(this.tok)
      const subscribed = this.subscriptions.some((s) => s.active)
      if (!subscribed && activity.watchedKeys !== 0) {
        this.violate("teardown", `no subscriber, yet ${activity.watchedKeys} keys are watched`)
      }
      const quiet =
        !subscribed &&
        this.callers.every((c) => c.done) &&
        this.refreshes.every((r) => r.done) &&
        now - this.lastActivity > 2 * RETRY_BUDGET
      if (quiet && (activity.fibers !== 0 || activity.requests !== 0)) {
        this.violate(
          "teardown",
          `nothing subscribed or waiting for ${now - this.lastActivity} ms, yet ${activity.fibers} fibers and ${activity.requests} requests run`,
        )
      }
      const found = this.violations.find((v) => only.has(v.invariant))
      this.violations.length = 0
      return found
    })
  }

  /** Ends the history: drained then disposed, or disposed at once. */
  finish(
    scope: Scope.Closeable,
    only: ReadonlySet<Invariant>,
  ): Effect.Effect<Violation | undefined> {
    return Effect.gen({ self: this }, function* () {
      if (this.history.end === "drain") {
        for (const sub of this.subscriptions) {
          if (sub.active) {
            sub.active = false
            sub.stop()
          }
        }
        this.lastActivity = this.clock.virtual()
        yield* TestClock.adjust(2 * RETRY_BUDGET + 1)
        yield* flushPromises
        const found = yield* this.check(only)
        if (found !== undefined) return found
      }
      this.disposed = true
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust(0)
      yield* flushPromises
      const activity = inspectClient(this.tok)
      if (
        activity.fibers !== 0 ||
        activity.requests !== 0 ||
        activity.watchedKeys !== 0 ||
        activity.cachedTokens !== 0
      ) {
        this.violate("teardown", `after dispose(): ${JSON.stringify(activity)}`)
      }
      const waiting = this.callers.filter((c) => !c.done).length
      if (waiting > 0) this.violate("answered", `${waiting} callers still wait after dispose()`)
      const refreshing = this.refreshes.filter((r) => !r.done).length
      if (refreshing > 0)
        this.violate("answered", `${refreshing} refresh() calls still wait after dispose()`)
      const found = this.violations.find((v) => only.has(v.invariant))
      return found
    })
  }
}

const flushPromises = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** The result of one history: the first violation (with the step it followed), or none. */
export interface Outcome {
  readonly violation: Violation | undefined
  readonly step: number
  readonly requests: number
}

/** Runs `history` under a fresh `TestClock`. */
export const runHistory = (history: History, only: ReadonlySet<Invariant>): Promise<Outcome> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const test = yield* TestClock.testClockWith(Effect.succeed)
      const clock = makeJumpClock(test)
      const world = new World(clock, history.skewSeconds * 1000, history.latencyMs)
      const lifecycle = makeTestLifecycle()
      const scope = yield* Scope.make()
      const layer = TokenClient.layerWithoutDefaults({
        expirationBuffer: history.buffer,
        refreshJitter: history.jitter,
      }).pipe(
        Layer.provide(
          Layer.mergeAll(world.layer, world.cacheLayer, Lifecycle.layerTest(lifecycle)),
        ),
      )
      const context = yield* Layer.buildWithScope(layer, scope).pipe(
        Effect.provideService(Clock.Clock, clock.clock),
        // What the client logs is kept for the `secret` check, not printed.
        Effect.provideService(
          Logger.CurrentLoggers,
          new Set([
            Logger.make((entry) =>
              world.logs.push(`${String(entry.message)} ${Cause.pretty(entry.cause)}`),
            ),
          ]),
        ),
        Effect.orDie,
      )
      const tok = Context.get(context, TokenClient.TokenClient)
      yield* tok.setSession(history.session)
      const model = new Model(history, world, clock, tok, lifecycle)
      return yield* Effect.gen(function* () {
        for (let i = 0; i < history.steps.length; i++) {
          const step = history.steps[i]!
          yield* model.apply(step)
          yield* TestClock.adjust(step.t === "wait" ? step.ms : 0)
          const violation = yield* model.check(only)
          if (violation !== undefined) return { violation, step: i, requests: world.total }
        }
        const violation = yield* model.finish(scope, only)
        return { violation, step: history.steps.length, requests: world.total }
      }).pipe(Effect.ensuring(Scope.close(scope, Exit.void)))
    }).pipe(Effect.provide(TestClock.layer())),
  )

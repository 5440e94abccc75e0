/**
 * DESIGN §2's guarantees as invariants over random histories (model-based,
 * fast-check): sign-ins, switches and sign-outs; callers with random options
 * (templates, organizations, buffers, `skipCache`, explicit sessions,
 * aborts); watchers subscribing and leaving; `invalidate`, `refresh()`,
 * lifecycle events, clock jumps; and a server that is slow, flaky, dead,
 * fails for good, answers 401 or 429, repeats JWTs or sends malformed ones,
 * in front of a store that may throw — all under `TestClock`. The invariants
 * are checked after every step (see `model/run.ts`).
 *
 * CI runs a fixed list of seeds plus one random seed, printed on failure.
 * Knobs (environment):
 * - `TOK_MODEL_SEED=<n>` runs that seed alone (`TOK_MODEL_PATH=<path>` replays
 *   one counterexample of it, as fast-check prints it);
 * - `TOK_MODEL_RUNS=<n>` histories per seed;
 * - `TOK_MODEL_CHECK=session,traffic` checks only these invariants;
 * - `TOK_MODEL_EXCLUDE=store,dead,…` draws no such step or server behaviour
 *   (behaviours: ok, flaky, dead, permanent, malformed, unauthorized, repeat).
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { historyArbitrary } from "./model/history.ts"
import type { History } from "./model/history.ts"
import { INVARIANTS, type Invariant, type KnownBug, runHistory } from "./model/run.ts"

const env = (name: string): string | undefined => {
  const value = process.env[name]
  return value === undefined || value === "" ? undefined : value
}

const list = (value: string | undefined): Array<string> =>
  value === undefined
    ? []
    : value
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")

/** The fixed seeds every CI run checks, and how many histories each. */
const SEEDS = [11, 22, 33, 44, 55]
const RUNS_PER_SEED = Number(env("TOK_MODEL_RUNS") ?? 170)
const randomSeed = Date.now() % 2_147_483_647

const checks = new Set<Invariant>(
  env("TOK_MODEL_CHECK") === undefined
    ? INVARIANTS
    : (list(env("TOK_MODEL_CHECK")) as Array<Invariant>),
)

/**
 * Known bug B (/work/notes/model-findings.md, B and B2): a watcher that names
 * its session (`watch({ sessionId })`) keeps showing that session's token
 * after the session ends as the current one (`setSession` away from it, or a
 * 401 while it is current), and an unsubscribed handle's `getSnapshot()`
 * keeps it after any end. The `session` check leaves exactly those cases
 * out until the engine is fixed; the cases below replay them without the
 * exemption and turn red once it is: then delete both.
 */
const KNOWN: ReadonlySet<KnownBug> = new Set(["B"])

/**
 * Known bug C (/work/notes/model-findings.md, C): when the server starts
 * issuing tokens that live no longer than the client's buffer while a
 * longer one is still cached, the new token is not stored, the watcher plans
 * from the cached one again — due — and refetches at once, forever (a request
 * storm). Until the engine is fixed the generator draws no such tokens (no
 * 5 s tokens, no client buffer of 30 s); the case below replays it and turns
 * red once it is fixed: then delete it and set this to `false`.
 */
const KNOWN_C = true

const arbitrary = historyArbitrary({
  exclude: new Set(list(env("TOK_MODEL_EXCLUDE"))),
  avoidShortTokens: KNOWN_C,
})

const property = fc.asyncProperty(arbitrary, async (history) => {
  const outcome = await runHistory(history, checks, KNOWN)
  if (outcome.violation !== undefined) {
    throw new Error(`after step ${outcome.step}: ${outcome.violation.message}`)
  }
})

const check = async (seed: number, numRuns: number, path?: string) => {
  const details = await fc.check(property, {
    seed,
    numRuns,
    ...(path === undefined ? {} : { path, endOnFailure: true }),
  })
  if (details.failed) {
    const error = details.errorInstance
    throw new Error(
      `model: seed ${seed} failed — replay with TOK_MODEL_SEED=${seed}` +
        (details.counterexamplePath === null
          ? ""
          : ` TOK_MODEL_PATH=${details.counterexamplePath}`) +
        `\n${error instanceof Error ? error.message : String(error)}` +
        `\nshrunk history (${details.numShrinks} shrinks): ${JSON.stringify(details.counterexample?.[0])}`,
    )
  }
  return details.numRuns
}

describe("§2 invariants over random histories", () => {
  const replay = env("TOK_MODEL_SEED")
  if (replay !== undefined) {
    it(`seed ${replay}`, { timeout: 600_000 }, async () => {
      expect(await check(Number(replay), RUNS_PER_SEED, env("TOK_MODEL_PATH"))).toBeGreaterThan(0)
    })
    return
  }

  it.each(SEEDS)("seed %i", { timeout: 120_000 }, async (seed) => {
    expect(await check(seed, RUNS_PER_SEED)).toBe(RUNS_PER_SEED)
  })

  it(`random seed ${randomSeed}`, { timeout: 120_000 }, async () => {
    expect(await check(randomSeed, RUNS_PER_SEED)).toBe(RUNS_PER_SEED)
  })
})

const shrunk = (steps: History["steps"]): History => ({
  jitter: 2000,
  buffer: 10,
  skewSeconds: 0,
  latencyMs: 0,
  session: "s1",
  steps,
  end: "drain",
})

/**
 * What the model found on main at 4b5058c, shrunk, kept as regression tests
 * (issue 11 items 1, 2, 4, 5, 8, and finding A of model-findings.md). Each
 * fails on that commit with the invariant named.
 */
describe("shrunk counterexamples stay fixed", () => {
  const cases: Record<string, History> = {
    "traffic — a caching proxy repeating a JWT causes no request storm (item 1)": shrunk([
      { t: "behave", on: { template: "b" }, b: { kind: "repeat", lifetime: 60 } },
      { t: "watch", tpl: "b", sid: "s1" },
      { t: "wait", ms: 14_280 },
      { t: "wait", ms: 33_966 },
    ]),
    "traffic — a permanent failure is not polled (item 2)": shrunk([
      { t: "behave", on: { template: "a" }, b: { kind: "permanent", status: 400 } },
      { t: "watch", tpl: "a", buf: 0 },
      { t: "wait", ms: 60_000 },
    ]),
    "traffic — a malformed answer is not polled (item 2)": shrunk([
      { t: "behave", on: { session: "s2" }, b: { kind: "malformed", how: "garbage" } },
      { t: "watch", org: "o", sid: "s2" },
      { t: "wait", ms: 60_000 },
    ]),
    "traffic — a dead server costs no more than a healthy key (item 2)": shrunk([
      { t: "behave", on: { template: "b" }, b: { kind: "dead", how: "503" } },
      { t: "watch", tpl: "b", sid: "s1" },
      { t: "wait", ms: 60_000 },
    ]),
    "session — a 401 for a named session tells its watchers (item 4)": {
      ...shrunk([
        { t: "watch", tpl: "a", sid: "s2" },
        { t: "refresh", i: 0 },
        { t: "watch", sid: "s2" },
        { t: "behave", on: { session: "s2" }, b: { kind: "unauthorized" } },
        { t: "wait", ms: 3000 },
      ]),
      latencyMs: 1500,
    },
    "session — a 401 for a named session signs its watcher out (item 4)": shrunk([
      { t: "watch", sid: "s2" },
      { t: "behave", on: { session: "s2" }, b: { kind: "unauthorized" } },
      { t: "get", skip: true, sid: "s2" },
    ]),
    "answered — a store that throws strands no caller (item 5)": shrunk([
      { t: "store", throws: true },
      { t: "get" },
    ]),
    "buffer — an absurd exp is no token (item 8)": shrunk([
      { t: "behave", on: { template: "" }, b: { kind: "malformed", how: "huge-exp" } },
      { t: "get", buf: 0 },
    ]),
    "traffic — a token living exactly buffer + J is not refetched at once (finding A)": {
      ...shrunk([
        { t: "behave", on: { session: "s1" }, b: { kind: "ok", lifetime: 30, delay: 0 } },
        { t: "watch", buf: 30 },
        { t: "wait", ms: 60_000 },
      ]),
      jitter: 0,
    },
  }
  for (const [name, history] of Object.entries(cases)) {
    it(name, { timeout: 30_000 }, async () => {
      const outcome = await runHistory(history, new Set(INVARIANTS), KNOWN)
      expect(outcome.violation?.message).toBeUndefined()
    })
  }
})

describe("known bug C: tokens living no longer than the buffer while a longer one is cached", () => {
  // Asserts the bug is still there: once fixed, this goes red — delete it and KNOWN_C.
  it("a server switching to 30 s tokens under a 30 s buffer causes a request storm — until fixed", async () => {
    const outcome = await runHistory(
      {
        ...shrunk([
          { t: "watch", org: "o", sid: "s2" },
          { t: "behave", on: { session: "s2" }, b: { kind: "ok", lifetime: 30, delay: 0 } },
          { t: "wait", ms: 60_000 },
        ]),
        buffer: 30,
      },
      new Set(INVARIANTS),
    )
    expect(outcome.violation?.invariant).toBe("traffic")
  })
})

describe("known bug B: watchers of a named session when it ends as the current one", () => {
  const cases: Record<string, History> = {
    "a sign-out leaves an explicit watcher of the session ready": shrunk([
      { t: "watch", sid: "s1" },
      { t: "session", id: null },
    ]),
    "a switch leaves an explicit watcher of the previous session ready": shrunk([
      { t: "watch", tpl: "a", org: "o", sid: "s1" },
      { t: "session", id: "s2" },
    ]),
    "a 401 of the current session leaves its explicit watchers ready": shrunk([
      { t: "behave", on: { template: "a" }, b: { kind: "unauthorized" } },
      { t: "watch", sid: "s1" },
      { t: "watch", tpl: "a", sid: "s1" },
    ]),
    "an unsubscribed handle's snapshot keeps the ended session's token": shrunk([
      { t: "watch", sid: "s1" },
      { t: "unsub", i: 0 },
      { t: "session", id: null },
    ]),
  }
  for (const [name, history] of Object.entries(cases)) {
    // Asserts the bug is still there (rather than `it.fails`, which any error
    // would satisfy): once fixed, this goes red — delete it and `KNOWN`.
    it(`${name} — until fixed`, async () => {
      const outcome = await runHistory(history, new Set(INVARIANTS))
      expect(outcome.violation?.invariant).toBe("session")
      expect(outcome.violation?.message).toMatch(/a session that ended/)
    })
  }
})

/**
 * Random histories: what an app, a backend and the auth server do to one
 * client, step by step. Plain data, so fast-check prints and shrinks them.
 */
import fc from "fast-check"
import type { Behaviour, Scope } from "./world.ts"

export type SessionId = "s1" | "s2" | "s3"

/** One thing that happens. */
export type Step =
  /** Sign in, switch (an id) or sign out (`null`). */
  | { readonly t: "session"; readonly id: SessionId | null }
  /** A caller asks for a token (in its own fiber). */
  | {
      readonly t: "get"
      readonly tpl?: string | undefined
      readonly org?: string | undefined
      readonly buf?: number | undefined
      readonly skip?: boolean | undefined
      readonly sid?: SessionId | undefined
    }
  /** A waiting caller gives up (its fiber is interrupted). */
  | { readonly t: "abort"; readonly i: number }
  /** A new handle on a key, subscribed once. */
  | {
      readonly t: "watch"
      readonly tpl?: string | undefined
      readonly org?: string | undefined
      readonly buf?: number | undefined
      readonly sid?: SessionId | undefined
    }
  /** One active subscription ends. */
  | { readonly t: "unsub"; readonly i: number }
  /** `refresh()` on a handle (subscribed or not). */
  | { readonly t: "refresh"; readonly i: number }
  | {
      readonly t: "invalidate"
      readonly f?:
        | {
            readonly sessionId?: SessionId | undefined
            readonly template?: string | undefined
            readonly organizationId?: string | undefined
          }
        | undefined
    }
  | { readonly t: "life"; readonly e: "hide" | "show" | "offline" | "online" | "focus" }
  /** Virtual time passes (timers fire). */
  | { readonly t: "wait"; readonly ms: number }
  /** The wall clock jumps forward; timers fire late (a laptop wakes up). */
  | { readonly t: "jump"; readonly ms: number }
  /** The server changes how it answers a session or a template. */
  | { readonly t: "behave"; readonly on: Scope; readonly b: Behaviour }
  /** The store starts or stops throwing on `set`. */
  | { readonly t: "store"; readonly throws: boolean }

/** A whole history: the client's config, the server's clock skew, the steps, how it ends. */
export interface History {
  readonly jitter: number
  readonly buffer: number
  readonly skewSeconds: number
  /** How long the server takes to answer anything (ms). */
  readonly latencyMs: number
  readonly session: SessionId | null
  readonly steps: ReadonlyArray<Step>
  /** `drain`: unsubscribe everything and let requests finish, then dispose; `dispose`: at once. */
  readonly end: "drain" | "dispose"
}

/** Which step kinds and behaviours a run may draw (the env knobs narrow them). */
export interface Features {
  readonly exclude: ReadonlySet<string>
}

const optional = <A>(arb: fc.Arbitrary<A>, undefinedWeight = 2): fc.Arbitrary<A | undefined> =>
  fc.oneof(
    { weight: undefinedWeight, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: arb },
  )

const template = optional(fc.constantFrom("a", "b"))
const org = optional(fc.constant("o"), 3)
// Backend-style calls name a session, mostly not the current one (s1 at first).
const explicit = optional(fc.constantFrom<SessionId>("s1", "s2", "s2", "s3"), 2)

const behaviours: ReadonlyArray<readonly [string, fc.Arbitrary<Behaviour>]> = [
  [
    "ok",
    fc.record({
      kind: fc.constant("ok" as const),
      lifetime: fc.constantFrom(60, 60, 30, 5),
      delay: fc.constantFrom(0, 0, 50, 800, 3000),
    }),
  ],
  [
    "flaky",
    fc.record({
      kind: fc.constant("flaky" as const),
      failures: fc.integer({ min: 1, max: 3 }),
      status: fc.constantFrom(503, undefined, 429),
      retryAfterMs: optional(fc.constantFrom(1000, 8000)),
    }),
  ],
  [
    "dead",
    fc.record({
      kind: fc.constant("dead" as const),
      how: fc.constantFrom("503", "network", "hang", "hang", "slow", "429", "429-long"),
    }),
  ],
  [
    "permanent",
    fc.record({
      kind: fc.constant("permanent" as const),
      status: fc.constantFrom(400, 403, 404, 422),
    }),
  ],
  [
    "malformed",
    fc.record({
      kind: fc.constant("malformed" as const),
      how: fc.constantFrom("garbage", "backwards", "no-exp", "huge-exp"),
    }),
  ],
  ["unauthorized", fc.constant({ kind: "unauthorized" as const })],
  [
    "repeat",
    fc.record({ kind: fc.constant("repeat" as const), lifetime: fc.constantFrom(60, 30) }),
  ],
]

const scope: fc.Arbitrary<Scope> = fc.oneof(
  fc.record({ session: fc.constantFrom("s1", "s2", "s3") }),
  fc.record({ template: fc.constantFrom("", "a", "b") }),
)

const waitMs = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 2000 }) },
  { weight: 4, arbitrary: fc.integer({ min: 2000, max: 70_000 }) },
  { weight: 2, arbitrary: fc.integer({ min: 60_000, max: 900_000 }) },
  { weight: 1, arbitrary: fc.constant(3_600_000) },
)

export const historyArbitrary = (features: Features): fc.Arbitrary<History> => {
  const allowed = behaviours.filter(([name]) => !features.exclude.has(name))
  const behaviour = fc.oneof(
    ...allowed.map(([name, arbitrary]) => ({
      weight: name === "unauthorized" || name === "dead" ? 2 : 1,
      arbitrary,
    })),
  )
  const steps: Array<{ kind: Step["t"]; weight: number; arbitrary: fc.Arbitrary<Step> }> = [
    {
      kind: "session",
      weight: 6,
      arbitrary: fc.record({
        t: fc.constant("session" as const),
        id: fc.constantFrom<SessionId | null>("s1", "s2", null),
      }),
    },
    {
      kind: "get",
      weight: 12,
      arbitrary: fc.record({
        t: fc.constant("get" as const),
        tpl: template,
        org,
        buf: optional(fc.constantFrom(0, 5, 30, 60)),
        skip: optional(fc.constant(true), 3),
        sid: explicit,
      }),
    },
    {
      kind: "abort",
      weight: 2,
      arbitrary: fc.record({ t: fc.constant("abort" as const), i: fc.nat(7) }),
    },
    {
      kind: "watch",
      weight: 8,
      arbitrary: fc.record({
        t: fc.constant("watch" as const),
        tpl: template,
        org,
        buf: optional(fc.constantFrom(0, 30)),
        sid: explicit,
      }),
    },
    {
      kind: "unsub",
      weight: 3,
      arbitrary: fc.record({ t: fc.constant("unsub" as const), i: fc.nat(7) }),
    },
    {
      kind: "refresh",
      weight: 3,
      arbitrary: fc.record({ t: fc.constant("refresh" as const), i: fc.nat(7) }),
    },
    {
      kind: "invalidate",
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant("invalidate" as const),
        f: optional(
          fc.record({
            sessionId: optional(fc.constantFrom<SessionId>("s1", "s2", "s3")),
            template: optional(fc.constantFrom("a", "b")),
            organizationId: optional(fc.constantFrom("o", "")),
          }),
          1,
        ),
      }),
    },
    {
      kind: "life",
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant("life" as const),
        e: fc.constantFrom("hide", "show", "offline", "online", "focus"),
      }),
    },
    {
      kind: "wait",
      weight: 20,
      arbitrary: fc.record({ t: fc.constant("wait" as const), ms: waitMs }),
    },
    {
      kind: "jump",
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant("jump" as const),
        ms: fc.constantFrom(60_000, 600_000, 3_600_000),
      }),
    },
    {
      kind: "behave",
      weight: 6,
      arbitrary: fc.record({ t: fc.constant("behave" as const), on: scope, b: behaviour }),
    },
    // A session the server has ended (401), the edge of §2.5 most histories miss.
    ...(features.exclude.has("unauthorized")
      ? []
      : [
          {
            kind: "behave" as const,
            weight: 2,
            arbitrary: fc.record({
              t: fc.constant("behave" as const),
              on: fc.record({ session: fc.constantFrom("s1", "s2", "s3") }),
              b: fc.constant({ kind: "unauthorized" as const }),
            }),
          },
        ]),
  ]
  steps.push({
    kind: "store",
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("store" as const), throws: fc.boolean() }),
  })
  const kept = steps.filter((step) => !features.exclude.has(step.kind))
  return fc.record({
    jitter: fc.constantFrom(2000, 2000, 0),
    buffer: fc.constantFrom(10, 10, 10, 30),
    skewSeconds: fc.constantFrom(0, 0, 300, -300),
    latencyMs: fc.constantFrom(0, 0, 100, 1500),
    session: fc.constantFrom<SessionId | null>("s1", "s1", null),
    // Most histories are short (fast-check's small size: up to 10 steps);
    // one in four runs to 50, where slow interleavings live.
    steps: fc.oneof(
      { weight: 3, arbitrary: fc.array(fc.oneof(...kept), { maxLength: 50, size: "small" }) },
      { weight: 1, arbitrary: fc.array(fc.oneof(...kept), { maxLength: 50, size: "max" }) },
    ),
    end: fc.constantFrom("drain", "dispose"),
  })
}

/**
 * A setup file of the mutation run only (vitest.stryker.config.ts): skips the
 * few tests that simulate an hour of traffic or time the cache's complexity.
 * Each takes seconds, and per-test coverage would run them for nearly every
 * mutant of the engine; they check request budgets (DESIGN §2.4), which the
 * model test checks too. A mutant only they would catch counts as survived,
 * so the score can only be lower for it, never flattered.
 */
import { beforeEach } from "vitest"

const SLOW = [/§2\.4 minimal traffic > .*(an hour|1 request in 5 fails)/, /\(no scan\)/]

beforeEach((context) => {
  const names: Array<string> = []
  for (let task: { name: string; suite?: unknown } | undefined = context.task; task;) {
    names.unshift(task.name)
    task = task.suite as { name: string; suite?: unknown } | undefined
  }
  const name = names.filter((n) => n !== "").join(" > ")
  if (SLOW.some((pattern) => pattern.test(name))) context.skip()
})

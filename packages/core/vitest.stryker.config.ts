/**
 * The vitest config of the mutation run (`./tools/run mutate`): the package's
 * own config without the model-based test. That test drives every line of
 * the engine, so per-test coverage would run its ~20 s for almost every
 * mutant — days on two cores. The score is measured by the other tests only,
 * so it can only be lower than with the model test, never flattered.
 *
 * A few tests talk to a real server on real timers; on a loaded machine
 * (two cores, several runs) one of them can miss its window. They get two
 * retries, so the initial run is green; a mutant that breaks a test breaks
 * it every time and is still killed.
 *
 * The slowest tests are skipped too (test/mutation/skip-slow.ts says which
 * and why), and so is nodeExit.test.ts: its code runs in child processes,
 * where no mutant is ever active.
 */

import { defineConfig, mergeConfig } from "vitest/config"
import base from "./vitest.config.ts"

export default mergeConfig(
  base,
  defineConfig({
    test: {
      exclude: ["test/model.test.ts", "test/nodeExit.test.ts", "**/node_modules/**"],
      setupFiles: ["test/mutation/skip-slow.ts"],
      retry: 2,
    },
  }),
)

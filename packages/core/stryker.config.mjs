// StrykerJS for the core, one file at a time: `./tools/run mutate [file…]`
// (see scripts/mutate.mjs) sets TOK_MUTATE_FILE to the file under test. Each
// file keeps its own incremental report in the local cache .mutation/
// (git-ignored: it embeds the test sources), so a later run on this machine
// retests only the mutants whose code or covering tests changed; a fresh
// clone's first run is a full one. scripts/mutate.mjs then writes the file's
// tally into mutation/scores.json (committed).
// HTML and JSON reports go to reports/mutation/ (git-ignored).
const file = process.env.TOK_MUTATE_FILE ?? "src/Token.ts"
const name = file
  .replace(/^src\//, "")
  .replace(/\.ts$/, "")
  .replaceAll("/", "-")

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  packageManager: "pnpm",
  plugins: ["@stryker-mutator/vitest-runner"],
  testRunner: "vitest",
  vitest: { configFile: "vitest.stryker.config.ts", related: false },
  // The package's vitest config imports ../../vitest.shared.ts, outside a sandbox copy.
  inPlace: true,
  // vitest does not type-check, so no file needs Stryker's `// @ts-nocheck`
  // (which, in place, would touch every source file during a run).
  disableTypeChecks: false,
  coverageAnalysis: "perTest",
  mutate: [file],
  incremental: true,
  incrementalFile: `.mutation/${name}.json`,
  concurrency: Number(process.env.TOK_MUTATE_CONCURRENCY ?? 2),
  reporters: ["clear-text", "progress-append-only", "html", "json"],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  clearTextReporter: {
    allowColor: false,
    logTests: false,
    reportTests: false,
    reportMutants: false,
  },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
  timeoutMS: 5000,
}

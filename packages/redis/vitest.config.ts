import { fileURLToPath } from "node:url"
import { defineConfig, mergeConfig } from "vitest/config"
import { fromSource } from "../../vitest.shared.ts"

const fleet = process.env["TOK_FLEET_TESTS"] === "1"

const src = (file: string) => fileURLToPath(new URL(`./src/${file}`, import.meta.url))

export default mergeConfig(
  fromSource(),
  defineConfig({
    resolve: {
      // The package imports itself by name in tests, as users do.
      alias: [{ find: /^@tok\/redis$/, replacement: src("index.ts") }],
    },
    test: {
      // test/load: the fleet and the request cap, a minute each of real
      // load (`test:fleet`): one after the other, so they do not compete.
      include: fleet ? ["test/load/**/*.test.ts"] : ["test/*.test.ts"],
      fileParallelism: !fleet,
      // Real redis-server, dev server and Node processes: seconds, not milliseconds.
      testTimeout: 150_000,
      // The files wait on processes and timers, not on the CPU: side by side.
      maxWorkers: 4,
      hookTimeout: 30_000,
    },
  }),
)

import { fileURLToPath } from "node:url"
import { defineConfig, mergeConfig } from "vitest/config"
import { fromSource } from "../../vitest.shared.ts"

export default mergeConfig(
  fromSource(),
  defineConfig({
    resolve: {
      // The tests import the package by name, as users do, and run its sources.
      alias: [
        {
          find: /^@tok\/dev-server$/,
          replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)),
        },
      ],
    },
    test: {
      include: ["test/**/*.test.ts"],
      // The CLI tests start Node processes; on a busy 2-core machine one can
      // take longer than vitest's 5 s default just to boot.
      testTimeout: 20_000,
    },
  }),
)

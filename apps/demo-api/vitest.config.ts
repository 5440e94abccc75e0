import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const conditions = ["@tok/source"]

export default defineConfig({
  // Workspace packages (@tok/core, @tok/dev-server) run from their sources, and
  // the tests import this app by name, as its users would.
  resolve: {
    conditions,
    alias: [
      {
        find: /^@tok\/demo-api$/,
        replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)),
      },
    ],
  },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: { include: ["test/**/*.test.ts"], testTimeout: 20_000 },
})

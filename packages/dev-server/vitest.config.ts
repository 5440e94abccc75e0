import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    conditions: ["@tok/source"],
    // The tests import the package by name, as users do, and run its sources.
    alias: [
      {
        find: /^@tok\/dev-server$/,
        replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)),
      },
    ],
  },
  test: { include: ["test/**/*.test.ts"] },
})

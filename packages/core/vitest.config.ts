import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (file: string) => fileURLToPath(new URL(`./src/${file}`, import.meta.url))

export default defineConfig({
  resolve: {
    conditions: ["@tok/source"],
    // The package imports itself by name in tests, as users do.
    alias: [
      { find: /^@tok\/core\/testing$/, replacement: src("testing.ts") },
      { find: /^@tok\/core$/, replacement: src("index.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
  },
})

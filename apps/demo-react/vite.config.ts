import { defaultClientConditions } from "vite"
import { defineConfig } from "vitest/config"

export default defineConfig({
  // Relative asset URLs: the build is served under /react/ by ./tools/run demo.
  base: "./",
  // JSX is compiled by Vite itself (the automatic runtime, from tsconfig.json's "jsx").
  // Workspace packages are built from their sources; Vite's own conditions stay.
  resolve: { conditions: ["@tok/source", ...defaultClientConditions] },
  build: {
    target: "es2022",
    sourcemap: true,
    rolldownOptions: {
      // @tok/react's "use client" (for server components) means nothing in a
      // browser bundle; @vitejs/plugin-react hides this notice the same way.
      onLog: (level, log, handler) => {
        if (log.code !== "MODULE_LEVEL_DIRECTIVE") handler(level, log)
      },
    },
  },
  test: { include: ["test/**/*.test.{ts,tsx}"], environment: "happy-dom" },
})

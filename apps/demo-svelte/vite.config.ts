import { svelte } from "@sveltejs/vite-plugin-svelte"
import { defaultClientConditions } from "vite"
import { defineConfig } from "vitest/config"

export default defineConfig({
  // Relative asset URLs: the build is served under /svelte/ by ./tools/run demo.
  base: "./",
  plugins: [svelte({ configFile: false })],
  // Workspace packages are built from their sources; Vite's own conditions stay.
  resolve: { conditions: ["@tok/source", ...defaultClientConditions] },
  build: { target: "es2022", sourcemap: true },
  test: { include: ["test/**/*.test.ts"], environment: "happy-dom" },
})

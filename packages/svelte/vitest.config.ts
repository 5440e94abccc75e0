import { svelte } from "@sveltejs/vite-plugin-svelte"
import { defineConfig } from "vitest/config"

export default defineConfig({
  plugins: [svelte({ configFile: false })],
  // Setting `conditions` replaces Vite's defaults: keep `browser` so `mount` is Svelte's client build.
  resolve: { conditions: ["@tok/source", "browser", "module", "development|production"] },
  test: { include: ["test/**/*.test.ts"], environment: "happy-dom" },
})

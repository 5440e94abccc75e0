import angular from "@analogjs/vite-plugin-angular"
import { defaultClientConditions, defineConfig } from "vite"

export default defineConfig({
  // Relative asset URLs: the build is served under /angular/ by ./tools/run demo.
  base: "./",
  // The Angular compiler compiles the app and, from their sources, the
  // workspace packages it imports (tsconfig.json includes them).
  plugins: [angular({ tsconfig: "tsconfig.json" })],
  // Workspace packages are built from their sources; Vite's own conditions stay.
  resolve: { conditions: ["@tok/source", ...defaultClientConditions] },
  build: { target: "es2022", sourcemap: true },
})

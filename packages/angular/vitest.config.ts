import angular from "@analogjs/vite-plugin-angular"
import { defineConfig } from "vitest/config"

export default defineConfig({
  // The Angular plugin compiles from a program that emits: tsconfig.json itself is noEmit.
  plugins: [angular({ tsconfig: "tsconfig.spec.json" })],
  resolve: { conditions: ["@tok/source"] },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "happy-dom",
    // The page the app runs on: relative URLs resolve against it.
    environmentOptions: { happyDOM: { url: "https://app.example.com/dashboard/" } },
    setupFiles: ["test/setup.ts"],
  },
})

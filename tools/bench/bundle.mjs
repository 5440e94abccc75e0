// Bundle size of a production build of a minimal app per adapter (core
// included, the framework itself external) and of core alone, built with the
// repo's own bundler (Vite), minified; reports min and min+gzip bytes.
import { Buffer } from "node:buffer"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"
import { build } from "vite"

const root = fileURLToPath(new URL("../..", import.meta.url))
const at = (path) => fileURLToPath(new URL(`../../${path}`, import.meta.url))

/** Workspace packages from source; Angular from its ngc build (decorators compiled away). */
const alias = [
  { find: /^@tok\/core$/, replacement: at("packages/core/src/index.ts") },
  { find: /^@tok\/vue$/, replacement: at("packages/vue/src/index.ts") },
  { find: /^@tok\/svelte$/, replacement: at("packages/svelte/src/index.ts") },
  { find: /^@tok\/angular$/, replacement: at("packages/angular/dist/index.js") },
  { find: /^@tok\/devtools$/, replacement: at("packages/devtools/src/index.ts") },
]
const external = [/^vue(\/|$)/, /^svelte(\/|$)/, /^@angular\//, /^rxjs(\/|$)/, /^tslib$/]

/** Builds one entry; returns { minBytes, gzipBytes }. */
export const measure = async (entry) => {
  const result = await build({
    configFile: false,
    root,
    logLevel: "silent",
    mode: "production",
    define: { "process.env.NODE_ENV": '"production"' },
    resolve: { alias, conditions: ["browser", "module", "production", "default"] },
    build: {
      write: false,
      minify: true,
      target: "es2022",
      modulePreload: false,
      lib: {
        entry: fileURLToPath(new URL(`./apps/${entry}.ts`, import.meta.url)),
        formats: ["es"],
      },
      rolldownOptions: { external, output: { codeSplitting: false } },
    },
  })
  const outputs = (Array.isArray(result) ? result : [result]).flatMap((r) => r.output)
  const code = outputs
    .filter((o) => o.type === "chunk")
    .map((o) => o.code)
    .join("\n")
  return { minBytes: Buffer.byteLength(code), gzipBytes: gzipSync(code, { level: 9 }).length }
}

export const entries = ["core", "vue", "svelte", "angular", "devtools"]

/** Peers, built the same way in the same run: the smallest app that reads a cached token. */
export const peers = {
  "auth0-spa-js": "peer-auth0",
  "oidc-client-ts": "peer-oidc",
  "okta-auth-js": "peer-okta",
  "msal-browser": "peer-msal",
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = {}
  for (const entry of entries) results[entry] = await measure(entry)
  for (const [name, entry] of Object.entries(peers)) results[name] = await measure(entry)
  console.log(JSON.stringify({ bench: "bundle", ...results }))
}

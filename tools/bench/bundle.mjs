// Bundle size of a production build of a minimal app per published entry
// (core alone, core + each adapter; the framework itself external) and of the
// peers' smallest equivalent apps, built by each bundler users have: esbuild
// (inside Angular CLI's application builder), Rollup (node-resolve + terser),
// webpack 5 (production mode, terser) and Vite. The tok packages are consumed
// as published: their `dist/` builds (`nx run-many -t build` first).
//
// Each bundler splits code at `import()` as it does for an app: the initial
// chunks (the entry and what it imports statically, what a page loads when
// nothing goes wrong) are measured apart from the lazy ones (loaded by an
// `import()`, such as core's defect log), and both are reported: `gzipBytes`
// is the initial chunks, `lazyGzipBytes` the lazy ones, `totalGzipBytes` the
// two together (each chunk gzipped on its own, as a server sends it).
//
//   node tools/bench/bundle.mjs [--json] [entry…]     min+gzip bytes per bundler, initial + lazy
//   node tools/bench/bundle.mjs --report core          esbuild's and Rollup's per-module bytes (initial chunks)
import { Buffer } from "node:buffer"
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"

const root = fileURLToPath(new URL("../..", import.meta.url))
const at = (path) => join(root, path)
/** Transpiled entries and webpack's output; inside the repo so peers resolve from its node_modules. */
const work = at("node_modules/.cache/tok-bench")

/** The published builds, as an app gets them from `import … from "@tok/…"`. */
const tokPackages = {
  "@tok/core": at("packages/core/dist/index.js"),
  "@tok/vue": at("packages/vue/dist/index.js"),
  "@tok/svelte": at("packages/svelte/dist/index.js"),
  "@tok/angular": at("packages/angular/dist/index.js"),
  "@tok/react": at("packages/react/dist/index.js"),
  "@tok/devtools": at("packages/devtools/dist/index.js"),
}
/** The frameworks are the app's own: never counted. */
const isExternal = (id) => /^(vue|svelte|rxjs|tslib|react|react-dom)(\/|$)|^@angular\//.test(id)
const conditions = ["browser", "import", "module", "production", "default"]
const define = { "process.env.NODE_ENV": '"production"' }
const target = "es2022"

/** The app, TypeScript stripped once, so every bundler reads the same JavaScript. */
const entryFile = async (entry) => {
  const { transform } = await import("esbuild")
  const source = readFileSync(new URL(`./apps/${entry}.ts`, import.meta.url), "utf8")
  const { code } = await transform(source, { loader: "ts", format: "esm", target })
  const file = join(work, "apps", `${entry}.js`)
  mkdirSync(dirname(file), { recursive: true })
  // Parallel runs write the same bytes; a rename keeps any reader from a half-written file.
  writeFileSync(`${file}.${process.pid}`, code)
  renameSync(`${file}.${process.pid}`, file)
  return file
}

const bytesOf = (codes) => ({
  min: codes.reduce((sum, code) => sum + Buffer.byteLength(code), 0),
  gzip: codes.reduce((sum, code) => sum + gzipSync(code, { level: 9 }).length, 0),
})

/** `{ initial, lazy }` (the chunks' code) → the bytes of each and of the two together. */
const sizes = ({ initial, lazy }) => {
  const first = bytesOf(initial)
  const later = bytesOf(lazy)
  return {
    minBytes: first.min,
    gzipBytes: first.gzip,
    lazyMinBytes: later.min,
    lazyGzipBytes: later.gzip,
    totalGzipBytes: first.gzip + later.gzip,
  }
}

/**
 * Splits a build's chunks into initial (the entry and what it imports
 * statically, transitively) and lazy (the rest: reached through `import()`).
 */
const splitChunks = (chunks, entry, staticImports) => {
  const initial = new Set()
  const visit = (name) => {
    if (initial.has(name) || !chunks.has(name)) return
    initial.add(name)
    for (const next of staticImports(name)) visit(next)
  }
  visit(entry)
  const codes = (keep) => [...chunks].filter(([name]) => keep(initial.has(name))).map(([, c]) => c)
  return { initial: codes((i) => i), lazy: codes((i) => !i), initialNames: initial }
}

/** esbuild, as Angular CLI's application builder runs it: bundle, minify, ESM. */
const esbuild = async (file, { metafile = false } = {}) => {
  const { build } = await import("esbuild")
  const result = await build({
    entryPoints: [file],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target,
    conditions,
    define,
    alias: tokPackages,
    plugins: [
      {
        name: "external-frameworks",
        setup: (b) =>
          b.onResolve({ filter: /.*/ }, (args) =>
            isExternal(args.path) ? { path: args.path, external: true } : undefined,
          ),
      },
    ],
    splitting: true,
    outdir: join(work, "esbuild"),
    write: false,
    metafile: true,
    logLevel: "silent",
  })
  const outputs = result.metafile.outputs
  const chunks = new Map(
    result.outputFiles
      .filter((f) => f.path.endsWith(".js"))
      // The metafile names its outputs relative to the working directory.
      .map((f) => [relative(process.cwd(), f.path), f.text]),
  )
  const entry = Object.keys(outputs).find((name) => outputs[name].entryPoint !== undefined)
  const split = splitChunks(chunks, entry, (name) =>
    outputs[name].imports.filter((i) => i.kind === "import-statement").map((i) => i.path),
  )
  return { ...split, metafile: metafile ? result.metafile : undefined }
}

/** Rollup's parsed modules, kept from one build to the next (the entries share Effect). */
let rollupCache

/** Rollup 4 with @rollup/plugin-node-resolve, -commonjs and -terser. */
const rollup = async (file) => {
  const [{ rollup: bundle }, { nodeResolve }, { default: commonjs }, { default: terser }] =
    await Promise.all([
      import("rollup"),
      import("@rollup/plugin-node-resolve"),
      import("@rollup/plugin-commonjs"),
      import("@rollup/plugin-terser"),
    ])
  const build = await bundle({
    input: file,
    cache: rollupCache,
    external: isExternal,
    onwarn: () => undefined,
    plugins: [
      { name: "tok-packages", resolveId: (id) => tokPackages[id] ?? null },
      {
        name: "node-env",
        transform: (code) =>
          code.includes("process.env.NODE_ENV")
            ? {
                code: code.replaceAll("process.env.NODE_ENV", define["process.env.NODE_ENV"]),
                map: null,
              }
            : null,
      },
      nodeResolve({ browser: true, exportConditions: conditions }),
      commonjs(),
    ],
  })
  const { output } = await build.generate({ format: "es", plugins: [terser()] })
  rollupCache = build.cache
  await build.close()
  const chunks = output.filter((o) => o.type === "chunk")
  const byName = new Map(chunks.map((c) => [c.fileName, c]))
  const split = splitChunks(
    new Map(chunks.map((c) => [c.fileName, c.code])),
    chunks.find((c) => c.isEntry).fileName,
    (name) => byName.get(name).imports,
  )
  const modules = Object.assign(
    {},
    ...chunks.filter((c) => split.initialNames.has(c.fileName)).map((c) => c.modules),
  )
  return { ...split, modules }
}

/**
 * webpack 5, production mode (terser-webpack-plugin), ESM output. Several
 * apps build in one compilation (the modules they share are parsed once):
 * without split chunks each entry's file holds all it uses, and webpack's
 * used-exports analysis is per entry (per runtime), so each file is what a
 * build of that app alone gives.
 */
const webpackMany = async (files) => {
  const [{ default: wp }, { default: TerserPlugin }] = await Promise.all([
    import("webpack"),
    import("terser-webpack-plugin"),
  ])
  const out = join(work, "webpack", String(process.pid))
  const compiler = wp({
    mode: "production",
    context: root,
    entry: Object.fromEntries(files.map((file, i) => [`app${i}`, file])),
    target: ["web", target],
    devtool: false,
    experiments: { outputModule: true },
    output: { path: out, filename: "[name].js", module: true, library: { type: "module" } },
    externalsType: "module",
    externals: [
      ({ request }, callback) => (isExternal(request) ? callback(null, request) : callback()),
    ],
    resolve: {
      alias: Object.fromEntries(Object.entries(tokPackages).map(([k, v]) => [`${k}$`, v])),
      conditionNames: conditions,
    },
    optimization: {
      minimize: true,
      minimizer: [new TerserPlugin({ extractComments: false, parallel: false })],
      splitChunks: false,
      runtimeChunk: false,
    },
    performance: { hints: false },
    plugins: [new wp.DefinePlugin(define)],
  })
  const stats = await new Promise((resolve, reject) =>
    compiler.run((error, result) => (error ? reject(error) : resolve(result))),
  )
  await new Promise((resolve) => compiler.close(resolve))
  if (stats.hasErrors()) throw new Error(stats.toString({ all: false, errors: true }))
  const read = (names) => [...names].map((name) => readFileSync(join(out, name), "utf8"))
  const codes = files.map((_, i) => {
    const entry = stats.compilation.entrypoints.get(`app${i}`)
    const initial = new Set(entry.getFiles())
    const lazy = new Set()
    const visit = (group) => {
      for (const child of group.getChildren()) {
        for (const file of child.getFiles()) if (!initial.has(file)) lazy.add(file)
        visit(child)
      }
    }
    visit(entry)
    return { initial: read(initial), lazy: read(lazy) }
  })
  rmSync(out, { recursive: true, force: true })
  return codes
}
const webpack = async (file) => (await webpackMany([file]))[0]

/** Vite 8 (Rolldown, minified by Oxc), an app build (library mode keeps whitespace), one chunk. */
const vite = async (file) => {
  const { build } = await import("vite")
  const result = await build({
    configFile: false,
    root,
    logLevel: "silent",
    mode: "production",
    define,
    resolve: {
      alias: Object.entries(tokPackages).map(([name, path]) => ({
        find: new RegExp(`^${name.replace("/", "\\/")}$`),
        replacement: path,
      })),
      conditions,
    },
    build: {
      write: false,
      minify: true,
      target,
      modulePreload: false,
      rolldownOptions: { input: file, external: isExternal },
    },
  })
  const chunks = (Array.isArray(result) ? result : [result])
    .flatMap((r) => r.output)
    .filter((o) => o.type === "chunk")
  const byName = new Map(chunks.map((c) => [c.fileName, c]))
  return splitChunks(
    new Map(chunks.map((c) => [c.fileName, c.code])),
    chunks.find((c) => c.isEntry).fileName,
    (name) => byName.get(name).imports,
  )
}

export const bundlers = { esbuild, rollup, webpack, vite }

/** Builds one entry with the given bundlers; returns each one's `{ minBytes, gzipBytes }`. */
export const measure = async (entry, names = Object.keys(bundlers)) =>
  (await measureMany([entry], names))[entry]

/** `measure` for several entries; webpack builds them in one compilation. */
export const measureMany = async (list, names = Object.keys(bundlers)) => {
  const files = await Promise.all(list.map(entryFile))
  const results = Object.fromEntries(list.map((entry) => [entry, {}]))
  for (const name of names) {
    const built =
      name === "webpack"
        ? await webpackMany(files)
        : await files.reduce(
            async (done, file) => [...(await done), await bundlers[name](file)],
            [],
          )
    list.forEach((entry, i) => (results[entry][name] = sizes(built[i])))
  }
  return results
}

/**
 * Adds `largest`: the bundler with the most initial min+gzip bytes, and
 * `largestTotal`: the one with the most initial + lazy, what the budgets gate.
 */
export const withLargest = (byBundler) => {
  const worst = (key) => {
    const [bundler, sizes] = Object.entries(byBundler).sort(([, a], [, b]) => b[key] - a[key])[0]
    return { bundler, ...sizes }
  }
  return { ...byBundler, largest: worst("gzipBytes"), largestTotal: worst("totalGzipBytes") }
}

/** The published entries: core alone, core with each adapter, and the devtools element alone. */
export const entries = ["core", "vue", "svelte", "angular", "react", "devtools"]

/** Peers, built the same way in the same run: the smallest app that reads a cached token. */
export const peers = {
  "auth0-spa-js": "peer-auth0",
  "oidc-client-ts": "peer-oidc",
  "okta-auth-js": "peer-okta",
  "msal-browser": "peer-msal",
}

/**
 * Where the bytes of one entry come from, by each bundler's own report:
 * esbuild's metafile (bytes each input contributes to the output) and Rollup's
 * rendered modules (what tree-shaking kept of each, minified alone).
 */
export const report = async (entry, top = 40) => {
  const file = await entryFile(entry)
  const label = (path) =>
    path
      .replace(/^.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, "")
      .replace(/^.*packages\/([^/]+)\/dist\//, "@tok/$1/")
  // The initial chunks only: what a page loads when nothing goes wrong.
  const { metafile, initialNames } = await esbuild(file, { metafile: true })
  const initialOutputs = [...initialNames].map((name) => metafile.outputs[name])
  const fromEsbuild = initialOutputs.flatMap((output) =>
    Object.entries(output.inputs).map(([path, { bytesInOutput }]) => [label(path), bytesInOutput]),
  )
  // Rollup's rendered modules keep Effect's JSDoc: each is minified on its own to compare.
  const { transform } = await import("esbuild")
  const { modules } = await rollup(file)
  const fromRollup = await Promise.all(
    Object.entries(modules).map(async ([path, m]) => [
      label(path),
      m.code ? (await transform(m.code, { minify: true, target })).code.length : 0,
    ]),
  )
  const table = (rows) =>
    rows
      .filter(([, bytes]) => bytes > 0)
      .sort(([, a], [, b]) => b - a)
      .slice(0, top)
  return {
    esbuild: {
      totalBytes: initialOutputs.reduce((sum, output) => sum + output.bytes, 0),
      modules: table(fromEsbuild),
    },
    rollup: {
      totalRenderedBytes: fromRollup.reduce((s, [, b]) => s + b, 0),
      modules: table(fromRollup),
    },
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  if (args[0] === "--report") {
    const result = await report(args[1] ?? "core", Number(args[2] ?? 40))
    if (args.includes("--json")) console.log(JSON.stringify(result))
    else
      for (const [bundler, r] of Object.entries(result)) {
        console.log(
          `\n${bundler} — ${r.totalBytes} B (${bundler === "esbuild" ? "metafile: bytes each input has in the minified output" : "rendered modules after tree-shaking, each minified alone"})`,
        )
        for (const [module, bytes] of r.modules)
          console.log(`${String(bytes).padStart(8)}  ${module}`)
      }
  } else {
    const option = args.indexOf("--bundlers")
    const names = option >= 0 ? args[option + 1].split(",") : Object.keys(bundlers)
    const wanted = args.filter((a, i) => !a.startsWith("--") && (option < 0 || i !== option + 1))
    const list = wanted.length > 0 ? wanted : [...entries, ...Object.keys(peers)]
    const measured = await measureMany(
      list.map((name) => peers[name] ?? name),
      names,
    )
    const results = Object.fromEntries(
      list.map((name) => [name, withLargest(measured[peers[name] ?? name])]),
    )
    if (args.includes("--json")) console.log(JSON.stringify({ bench: "bundle", ...results }))
    else
      for (const [name, r] of Object.entries(results)) {
        // min+gzip bytes: initial (what a page loads) + lazy (`import()` chunks) = total.
        console.log(`${name}  min+gzip bytes: initial + lazy = total (initial min)`)
        for (const b of names)
          console.log(
            `  ${b.padEnd(8)} ${r[b].gzipBytes} + ${r[b].lazyGzipBytes} = ${r[b].totalGzipBytes} (${r[b].minBytes})`,
          )
      }
  }
}

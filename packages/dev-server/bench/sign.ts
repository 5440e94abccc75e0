/**
 * Signing throughput of the dev server: tokens signed per second in-process
 * (`issueToken`) and over HTTP (`POST /v1/client/sessions/:sid/tokens`), beside a
 * baseline measured in the same run: `jose`'s `SignJWT` in a plain loop with the
 * same key and similar claims. Bounded by a count and a time budget per case.
 *
 *   node --conditions=@tok/source bench/sign.ts [--count 1000] [--concurrency 8] [--budget-ms 10000]
 *
 * Not a test: it only prints a table.
 */
import { randomUUID } from "node:crypto"
import { performance } from "node:perf_hooks"
import { parseArgs } from "node:util"
import { SignJWT } from "jose"
import { generateSigningKey, startDevServer } from "@tok/dev-server"

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "8" },
    "budget-ms": { type: "string", default: "10000" },
  },
})
const count = Number(values.count)
const concurrency = Number(values.concurrency)
const budgetMs = Number(values["budget-ms"])
for (const [name, value] of [
  ["count", count],
  ["concurrency", concurrency],
  ["budget-ms", budgetMs],
] as const) {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name} must be a positive whole number`)
}

interface Result {
  readonly name: string
  readonly done: number
  readonly ms: number
}

/** Runs `once` up to `count` times, `parallel` at a time, stopping early when the budget is spent. */
const measure = async (
  name: string,
  parallel: number,
  once: () => Promise<unknown>,
): Promise<Result> => {
  for (let i = 0; i < Math.min(20, count); i++) await once() // warm up
  let started = 0
  let done = 0
  const t0 = performance.now()
  const worker = async () => {
    while (started < count && performance.now() - t0 < budgetMs) {
      started += 1
      await once()
      done += 1
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker))
  return { name, done, ms: performance.now() - t0 }
}

// One key for the baseline and the server, so they sign with the same key.
const signingKey = await generateSigningKey()
const server = await startDevServer({ port: 0, signingKey })
try {
  const session = server.signIn("user_bench")
  const tokenUrl = `${server.url}/v1/client/sessions/${session.id}/tokens`
  const baselineClaims = () => ({
    sub: session.user_id,
    sid: session.id,
    iss: server.url,
    jti: randomUUID().replaceAll("-", ""),
  })

  const results: Result[] = []
  results.push(
    await measure("jose SignJWT loop (baseline)", 1, () =>
      new SignJWT(baselineClaims())
        .setProtectedHeader({ alg: "RS256", kid: signingKey.kid, typ: "JWT" })
        .setIssuedAt()
        .setNotBefore("0s")
        .setExpirationTime("60s")
        .sign(signingKey.privateKey),
    ),
  )
  results.push(
    await measure("issueToken (in-process)", 1, () => server.issueToken({ sessionId: session.id })),
  )
  results.push(
    await measure("HTTP POST …/tokens, 1 at a time", 1, async () => {
      const res = await fetch(tokenUrl, { method: "POST" })
      if (res.status !== 200) throw new Error(`status ${res.status}`)
      await res.arrayBuffer()
    }),
  )
  results.push(
    await measure(`HTTP POST …/tokens, ${concurrency} at a time`, concurrency, async () => {
      const res = await fetch(tokenUrl, { method: "POST" })
      if (res.status !== 200) throw new Error(`status ${res.status}`)
      await res.arrayBuffer()
    }),
  )

  const rate = (r: Result) => (r.done / r.ms) * 1000
  const baseline = rate(results[0]!)
  const rows = results.map((r) => [
    r.name,
    String(r.done),
    rate(r).toFixed(0),
    (rate(r) / baseline).toFixed(2),
  ])
  const header = ["case", "tokens", "tokens/s", "× baseline"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
  console.log(
    `@tok/dev-server signing throughput (RS256, 2048-bit key, node ${process.versions.node})`,
  )
  console.log(line(header))
  for (const row of rows) console.log(line(row))
} finally {
  await server.stop()
}

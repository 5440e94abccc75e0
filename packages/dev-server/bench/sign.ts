/**
 * Signing throughput of the dev server: tokens signed per second in-process
 * (`issueToken`) and over HTTP (`POST /v1/client/sessions/:sid/tokens`), beside a
 * baseline measured in the same run: `jose`'s `SignJWT` in a plain loop with the
 * same key and similar claims. Each case runs `--rounds` times, interleaved, each
 * time bounded by a count and a time budget; the median rate is printed.
 *
 *   node --conditions=@tok/source bench/sign.ts [--count 500] [--rounds 3] [--concurrency 8] [--budget-ms 10000] [--json]
 *
 * Not a test: it only prints a table, or with `--json` one JSON line
 * `{ "bench": "dev-server-signing", … }` for `./tools/run bench`.
 */
import { randomUUID } from "node:crypto"
import { performance } from "node:perf_hooks"
import { parseArgs } from "node:util"
import { SignJWT } from "jose"
import { generateSigningKey, startDevServer } from "@tok/dev-server"

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "500" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "8" },
    "budget-ms": { type: "string", default: "10000" },
    json: { type: "boolean", default: false },
  },
})
const count = Number(values.count)
const concurrency = Number(values.concurrency)
const budgetMs = Number(values["budget-ms"])
const rounds = Number(values.rounds)
for (const [name, value] of [
  ["count", count],
  ["concurrency", concurrency],
  ["budget-ms", budgetMs],
  ["rounds", rounds],
] as const) {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name} must be a positive whole number`)
}

/** Runs `once` `count` times, `parallel` at a time, stopping early when the budget is spent; tokens/s. */
const measure = async (parallel: number, once: () => Promise<unknown>): Promise<number> => {
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
  return (done / (performance.now() - t0)) * 1000
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

// One key for the baseline and the server, so both sign with the same key.
const signingKey = await generateSigningKey()
const server = await startDevServer({ port: 0, signingKey })
try {
  const session = server.signIn("user_bench")
  const tokenUrl = `${server.url}/v1/client/sessions/${session.id}/tokens`
  const overHttp = async () => {
    const res = await fetch(tokenUrl, { method: "POST" })
    if (res.status !== 200) throw new Error(`status ${res.status}`)
    await res.arrayBuffer()
  }
  const cases: { name: string; parallel: number; once: () => Promise<unknown> }[] = [
    {
      name: "jose SignJWT loop (baseline)",
      parallel: 1,
      once: () =>
        new SignJWT({
          sub: session.user_id,
          sid: session.id,
          iss: server.url,
          jti: randomUUID().replaceAll("-", ""),
        })
          .setProtectedHeader({ alg: "RS256", kid: signingKey.kid, typ: "JWT" })
          .setIssuedAt()
          .setNotBefore("0s")
          .setExpirationTime("60s")
          .sign(signingKey.privateKey),
    },
    {
      name: "issueToken (in-process)",
      parallel: 1,
      once: () => server.issueToken({ sessionId: session.id }),
    },
    { name: "HTTP POST …/tokens, 1 at a time", parallel: 1, once: overHttp },
    { name: `HTTP POST …/tokens, ${concurrency} at a time`, parallel: concurrency, once: overHttp },
  ]

  for (const { once } of cases) for (let i = 0; i < 20; i++) await once() // warm up
  // Rounds interleave the cases, so a burst of load elsewhere hits them alike; the median is kept.
  const rates = cases.map(() => [] as number[])
  for (let round = 0; round < rounds; round++) {
    for (const [i, { parallel, once }] of cases.entries())
      rates[i]!.push(await measure(parallel, once))
  }
  const results = cases.map(({ name }, i) => ({ name, rate: median(rates[i]!) }))
  const baseline = results[0]!.rate
  const ratio = (rate: number) => Math.round((rate / baseline) * 100) / 100
  if (values.json) {
    const [, inProcess, serial, concurrent] = results.map((r) => r.rate)
    console.log(
      JSON.stringify({
        bench: "dev-server-signing",
        baselineTokensPerSec: Math.round(baseline),
        issueTokenTokensPerSec: Math.round(inProcess!),
        issueTokenRatio: ratio(inProcess!),
        httpSerialTokensPerSec: Math.round(serial!),
        httpSerialRatio: ratio(serial!),
        httpConcurrentTokensPerSec: Math.round(concurrent!),
        httpConcurrentRatio: ratio(concurrent!),
      }),
    )
  } else {
    const rows = results.map((r) => [r.name, r.rate.toFixed(0), ratio(r.rate).toFixed(2)])
    const header = ["case", "tokens/s", "× baseline"]
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
    const line = (cells: string[]) =>
      cells
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
        .join("  ")
    console.log(
      `@tok/dev-server signing throughput (RS256 2048-bit, median of ${rounds} rounds of ${count}, node ${process.versions.node})`,
    )
    console.log(line(header))
    for (const row of rows) console.log(line(row))
  }
} finally {
  await server.stop()
}

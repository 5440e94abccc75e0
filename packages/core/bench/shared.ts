/**
 * Helpers shared by the core benchmarks: timing with a baseline measured in
 * the same process, and JSON output for `tools/bench` to collect.
 */
import { performance } from "node:perf_hooks"

/** Median of a list of numbers. */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** ns per call of `fn`, awaited one call after another, best of `rounds` medians. */
export const nsPerOp = async (
  fn: () => unknown,
  { iterations = 200_000, rounds = 7 }: { iterations?: number; rounds?: number } = {},
): Promise<number> => {
  const samples: Array<number> = []
  for (let round = 0; round < rounds; round++) {
    const start = performance.now()
    for (let i = 0; i < iterations; i++) await fn()
    samples.push(((performance.now() - start) * 1e6) / iterations)
  }
  return median(samples)
}

/** Prints the result as one JSON line when `--json` is given, else readably. */
export const report = (name: string, result: Record<string, unknown>): void => {
  if (process.argv.includes("--json")) console.log(JSON.stringify({ bench: name, ...result }))
  else console.log(name, result)
}

/** A JWT-shaped string of about `bytes` bytes with the given lifetime. */
export const jwtOfSize = (bytes: number, iat: number, lifetime: number, n = 0): string => {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
  const head = b64({ alg: "RS256", typ: "JWT" })
  const base = { sub: "user_1", sid: "sess_1", iat, exp: iat + lifetime, n }
  const payloadLength = b64(base).length
  const pad = "x".repeat(
    Math.max(0, Math.floor(((bytes - head.length - 344 - payloadLength) * 3) / 4)),
  )
  return `${head}.${b64({ ...base, pad })}.${"s".repeat(342)}`
}

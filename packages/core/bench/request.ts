/**
 * Request overhead of tracing: the Promise face's `skipCache` request (a
 * source that answers at once) with spans on — `TokenMetrics.tracing` and a
 * tracer that keeps nothing — against the same path without, in one process.
 */
import * as Layer from "effect/Layer"
import * as Tracer from "effect/Tracer"
import { createTokenClient, fromFunction, TokenMetrics } from "@tok/core"
import { jwtOfSize, nsPerOp, report } from "./shared.ts"

const jwt = jwtOfSize(1024, Math.floor(Date.now() / 1000), 3600)

/** A tracer that makes Effect's native spans and drops them, as an exporter with nothing to send would. */
const dropping = Tracer.make({ span: (options) => new Tracer.NativeSpan(options) })

const plain = createTokenClient({ source: fromFunction(async () => jwt), session: "sess_1" })
const traced = createTokenClient({
  source: fromFunction(async () => jwt),
  session: "sess_1",
  observability: Layer.merge(TokenMetrics.tracing, Layer.succeed(Tracer.Tracer, dropping)),
})
const request = (client: typeof plain) => () => client.getToken({ skipCache: true })

const options = { iterations: 3_000, rounds: 3 }
await nsPerOp(request(plain), { iterations: 2_000, rounds: 2 })
await nsPerOp(request(traced), { iterations: 2_000, rounds: 2 })
// Alternated three times; the best of each (load only ever adds time).
const plainRuns: Array<number> = []
const tracedRuns: Array<number> = []
for (let i = 0; i < 3; i++) {
  plainRuns.push(await nsPerOp(request(plain), options))
  tracedRuns.push(await nsPerOp(request(traced), options))
}
await plain.dispose()
await traced.dispose()
const base = Math.min(...plainRuns)
const tracedNs = Math.min(...tracedRuns)

report("request", {
  plainNs: Math.round(base),
  tracedNs: Math.round(tracedNs),
  tracerRatio: Math.round((tracedNs / base) * 100) / 100,
})

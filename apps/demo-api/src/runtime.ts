/**
 * What each demo-api request runs on: tok's `TokenClient` (one for every
 * session, on `TokenSource.clerkBackendApi` with the secret key), the session
 * token `Verifier`, tok's metrics in this server's own registry (served at
 * `/metrics`), its spans over OTLP when a collector is configured, and — with
 * a Redis URL — tokens, fetch locks and session ends shared with the other
 * demo-apis on that Redis (`@tok/redis`).
 * @module
 */
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Metric from "effect/Metric"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import { TokenClient, TokenMetrics, TokenSource, type Token } from "@tok/core"
import { RedisTokenShare } from "@tok/redis"
import * as Verifier from "./Verifier.ts"

/** Where an answer's template token came from (the `tokenSource` field). */
export type TokenSourceLabel = "cache" | "redis" | "fetch"

/** `Token.source` as the demo shows it: a peer's token came through Redis. */
export const tokenSourceLabel = (source: Token["source"]): TokenSourceLabel =>
  source === "cache" ? "cache" : source === "peer" ? "redis" : "fetch"

/** What {@link makeRuntime} needs, every field already defaulted by the server. */
export interface RuntimeOptions {
  readonly tokenServer: string
  readonly secretKey: string
  readonly allowedOrigins: readonly string[]
  readonly instance: string
  readonly sessionTokenLifetime?: number | undefined
  readonly otlpEndpoint?: string | undefined
  readonly redisUrl?: string | undefined
}

/** The runtime of demo-api's handlers; `dispose()` releases tok's fibers and Redis. */
export const makeRuntime = (options: RuntimeOptions) => {
  const traces =
    options.otlpEndpoint === undefined
      ? Layer.empty
      : OtlpTracer.layer({
          url: `${options.otlpEndpoint.replace(/\/+$/, "")}/v1/traces`,
          resource: { serviceName: "tok-demo-api" },
          exportInterval: "2 seconds",
        }).pipe(Layer.provide([FetchHttpClient.layer, OtlpSerialization.layerJson]))
  const observability = Layer.mergeAll(
    Layer.succeed(Metric.MetricRegistry, new Map()),
    TokenMetrics.layerAll,
    traces,
  )
  const share =
    options.redisUrl === undefined
      ? Layer.empty
      : RedisTokenShare.layerNode({
          redis: { url: options.redisUrl },
          instanceId: options.instance,
        })
  // tok on a server: one client for every session, each call naming its session.
  const tok = TokenClient.layer().pipe(
    Layer.provide(
      TokenSource.clerkBackendApi({ baseUrl: options.tokenServer, secretKey: options.secretKey }),
    ),
    Layer.provide(share),
  )
  const verifier = Verifier.layer({
    issuer: options.tokenServer,
    allowedOrigins: options.allowedOrigins,
    ...(options.sessionTokenLifetime === undefined
      ? {}
      : { sessionTokenLifetime: options.sessionTokenLifetime }),
  })
  return ManagedRuntime.make(Layer.mergeAll(tok, verifier).pipe(Layer.provideMerge(observability)))
}

/**
 * One instance of a backend fleet, as a real Node process: a `TokenClient` on
 * `clerkBackendApi` against the dev server, sharing through Redis when asked.
 * Driven over stdin/stdout, one JSON object a line (see `Command`); it never
 * prints a JWT, only a short fingerprint of one.
 *
 * Run: node --conditions=@tok/source test/support/instance.ts '<InstanceConfig JSON>'
 */
import { createHash } from "node:crypto"
import { createInterface } from "node:readline"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { TokenClient, TokenSource } from "@tok/core"
import { RedisTokenShare, RequestCap } from "@tok/redis"

/** How an instance is set up. */
export interface InstanceConfig {
  readonly devServerUrl: string
  readonly secretKey: string
  /** Redis to share through; none: the instance is on its own. */
  readonly redisUrl?: string
  /** Share tokens and the fetch lock through Redis. */
  readonly share?: boolean
  /** Cap the fleet's requests per second (needs `redisUrl`). */
  readonly requestsPerSecond?: number
  readonly headroom?: number
  /** Base64 AES key for values at rest. */
  readonly encryptionKey?: string
  readonly prefix?: string
  readonly requestTimeout?: number
  readonly lockTtl?: number
  readonly redisTimeout?: number
  readonly expirationBuffer?: number
}

/** What the test asks. */
export type Command =
  | {
      readonly id: number
      readonly op: "get"
      readonly sessionId: string
      readonly template?: string
      readonly skipCache?: boolean
    }
  | {
      readonly id: number
      readonly op: "load"
      readonly sessions: readonly string[]
      readonly templates: readonly (string | null)[]
      readonly durationMs: number
      /** A call starts every `intervalMs`, whether or not the earlier ones are answered. */
      readonly intervalMs: number
    }
  | {
      readonly id: number
      readonly op: "many"
      readonly keys: readonly { readonly sessionId: string; readonly template?: string }[]
    }
  | { readonly id: number; readonly op: "invalidate"; readonly sessionId?: string }

const config = JSON.parse(process.argv[2] ?? "{}") as InstanceConfig

const fingerprint = (jwt: string) => createHash("sha256").update(jwt).digest("hex").slice(0, 12)

const source = TokenSource.clerkBackendApi({
  baseUrl: config.devServerUrl,
  secretKey: config.secretKey,
})

const redis =
  config.redisUrl === undefined
    ? undefined
    : NodeRedis.layer({
        url: config.redisUrl,
        // Commands fail at once while the connection is down, instead of queueing.
        disableOfflineQueue: true,
      })

const capped =
  config.requestsPerSecond !== undefined && redis !== undefined
    ? RequestCap.layer(source, {
        requestsPerSecond: config.requestsPerSecond,
        headroom: config.headroom,
        redisTimeout: config.redisTimeout,
      }).pipe(Layer.provide(redis))
    : source

const share =
  config.share && redis !== undefined
    ? RedisTokenShare.layer({
        prefix: config.prefix,
        encryptionKey: config.encryptionKey,
        lockTtl: config.lockTtl,
        redisTimeout: config.redisTimeout,
        instanceId: `pid${process.pid}`,
      }).pipe(Layer.provide(redis))
    : Layer.empty

const clientLayer = TokenClient.layer({
  requestTimeout: config.requestTimeout ?? 10_000,
  expirationBuffer: config.expirationBuffer,
}).pipe(Layer.provide(capped), Layer.provide(share))

const runtime = ManagedRuntime.make(clientLayer)

const send = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)

const withClient = <A, E>(f: (client: TokenClient.Service) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    return yield* f(yield* TokenClient.TokenClient)
  })

const getToken = (options: TokenClient.GetTokenOptions) =>
  runtime.runPromise(
    withClient((client) => client.getToken(options)).pipe(
      Effect.map((token) => ({
        ok: true as const,
        source: token.source,
        jwt: fingerprint(token.jwt),
      })),
      Effect.catch((error) =>
        Effect.succeed({
          ok: false as const,
          // The tag, and for an unavailable token why (a timeout, the network, the server).
          error:
            error._tag === "TokenUnavailableError" ? `${error._tag}:${error.reason}` : error._tag,
        }),
      ),
    ),
  )

const handle = async (command: Command): Promise<unknown> => {
  switch (command.op) {
    case "get": {
      const started = performance.now()
      const result = await getToken({
        sessionId: command.sessionId,
        template: command.template,
        skipCache: command.skipCache,
      })
      return { ...result, ms: performance.now() - started }
    }
    case "load": {
      // Open loop: calls start on a fixed beat, so a slow miss does not slow
      // the beat, and every instance asks for every key many times a lifetime.
      let calls = 0
      let maxMs = 0
      const failures: Record<string, number> = {}
      const pending: Promise<void>[] = []
      // When each call started and ended (epoch ms) and for which key
      // (session index, template index): what one process making the same
      // calls would have fetched is computed from it.
      const asks: [number, number, number, number][] = []
      const one = async () => {
        const s = Math.floor(Math.random() * command.sessions.length)
        const t = Math.floor(Math.random() * command.templates.length)
        const sessionId = command.sessions[s]!
        const template = command.templates[t]
        const ask: [number, number, number, number] = [Date.now(), 0, s, t]
        asks.push(ask)
        const started = performance.now()
        const result = await getToken({ sessionId, template: template ?? undefined })
        ask[1] = Date.now()
        maxMs = Math.max(maxMs, performance.now() - started)
        calls += 1
        if (!result.ok) failures[result.error] = (failures[result.error] ?? 0) + 1
      }
      const start = performance.now()
      for (let beat = 0; performance.now() - start < command.durationMs; beat++) {
        pending.push(one())
        const next = start + (beat + 1) * command.intervalMs
        const wait = next - performance.now()
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
        else if (beat % 50 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
      await Promise.all(pending)
      return { calls, failures, maxMs, asks }
    }
    case "many": {
      const results = await Promise.all(
        command.keys.map((key) => getToken({ sessionId: key.sessionId, template: key.template })),
      )
      const failures: Record<string, number> = {}
      for (const result of results) {
        if (!result.ok) failures[result.error] = (failures[result.error] ?? 0) + 1
      }
      return { calls: results.length, failures }
    }
    case "invalidate": {
      await runtime.runPromise(
        withClient((client) =>
          client.invalidate(
            command.sessionId === undefined ? undefined : { sessionId: command.sessionId },
          ),
        ),
      )
      return { ok: true }
    }
  }
}

// Build the client (and connect to Redis) before saying ready.
await runtime.runPromise(withClient(() => Effect.void))
send({ ready: true, pid: process.pid })

createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line) as Command
  handle(command).then(
    (result) => send({ id: command.id, result }),
    (error: unknown) => send({ id: command.id, error: String(error) }),
  )
})
process.stdin.on("end", () => {
  void runtime.dispose().then(() => process.exit(0))
})

#!/usr/bin/env node
/**
 * The demo-api command: `node --conditions=@tok/source src/main.ts --token-server URL
 * --allowed-origin ORIGIN [--port N] [--host H] [--secret-key K] [--session-token-lifetime S]
 * [--redis-url URL] [--instance NAME] [--verbose]`.
 * Prints one line, "tok demo-api listening on http://HOST:PORT", and stops
 * cleanly on SIGINT/SIGTERM. Bad flags: a message and exit code 2.
 * `GET /metrics` serves tok's metrics as Prometheus text; with
 * `OTEL_EXPORTER_OTLP_ENDPOINT` set, tok's spans are exported there (OTLP/HTTP, JSON).
 * @module
 */
import { parseArgs } from "node:util"
import { DEV_SECRET_KEY } from "./options.ts"
import { startDemoApi } from "./server.ts"

const usage = `Usage: tok-demo-api --token-server <url> --allowed-origin <origin> [options]

  --token-server <url>      the token server (issuer, JWKS, Backend API), e.g. http://127.0.0.1:43123
  --allowed-origin <origin> a browser origin whose tokens are accepted; repeat for more
  --port <n>                TCP port; 0 = chosen by the OS (default 0)
  --host <address>          interface to bind (default 127.0.0.1)
  --secret-key <key>        the token server's secret key (default: $TOK_SECRET_KEY, else the dev key)
  --session-token-lifetime <s>
                            the token server's session token lifetime; longer-lived tokens
                            are refused (default 60)
  --redis-url <url>         share tokens with other demo-apis through this Redis (@tok/redis)
  --instance <name>         this instance's name, in every answer (default demo-api)
  --verbose                 log one line per request to stderr (never a token)
  -h, --help                show this help
`

const fail = (message: string): never => {
  process.stderr.write(`tok-demo-api: ${message}\n\n${usage}`)
  process.exit(2)
}

const readFlags = () => {
  try {
    return parseArgs({
      args: process.argv.slice(2),
      options: {
        "token-server": { type: "string" },
        "allowed-origin": { type: "string", multiple: true },
        port: { type: "string" },
        host: { type: "string" },
        "secret-key": { type: "string" },
        "session-token-lifetime": { type: "string" },
        "redis-url": { type: "string" },
        instance: { type: "string" },
        verbose: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error))
  }
}
const values = readFlags()
if (values.help) {
  process.stdout.write(usage)
  process.exit(0)
}
const tokenServer = values["token-server"] ?? fail("--token-server is required")
const origins = values["allowed-origin"] ?? fail("--allowed-origin is required")
const redisUrl = values["redis-url"]
if (
  redisUrl !== undefined &&
  (!URL.canParse(redisUrl) || !/^rediss?:$/.test(new URL(redisUrl).protocol))
)
  fail("--redis-url must be a redis:// or rediss:// URL")
for (const url of [tokenServer, ...origins]) {
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
    fail(`not an http(s) URL: ${url}`)
}
const port = Number(values.port ?? "0")
if (!Number.isInteger(port) || port < 0 || port > 65_535)
  fail("--port must be a whole number in [0, 65535]")

const lifetime = Number(values["session-token-lifetime"] ?? "60")
if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > 86_400)
  fail("--session-token-lifetime must be a whole number of seconds in [1, 86400]")

const api = await startDemoApi({
  tokenServerUrl: tokenServer,
  allowedOrigins: origins,
  port,
  host: values.host ?? "127.0.0.1",
  sessionTokenLifetime: lifetime,
  secretKey: values["secret-key"] ?? process.env.TOK_SECRET_KEY ?? DEV_SECRET_KEY,
  // tok's spans go to an OTLP/HTTP collector when one is configured the standard way.
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined,
  redisUrl,
  instance: values.instance,
  ...(values.verbose ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
}).catch((error: unknown) => {
  process.stderr.write(
    `tok-demo-api: could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  )
  process.exit(1)
})
process.stdout.write(`tok demo-api listening on ${api.url}\n`)

const stop = () => {
  void api.stop().then(() => process.exit(0))
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)

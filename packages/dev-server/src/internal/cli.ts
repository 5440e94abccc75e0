/**
 * The CLI: flags → {@link DevServerOptions}, start, one line with the URL on
 * stdout, a clean stop on SIGINT/SIGTERM. Usage errors exit 2, start failures 1.
 * @internal
 */
import { readFile } from "node:fs/promises"
import { parseArgs } from "node:util"
import { malformedBodies, type FaultSettings, type MalformedBody } from "../faults.ts"
import { instanceTypes, type InstanceType } from "../instance.ts"
import { loadSigningKey } from "../keys.ts"
import { startDevServer, type DevServerOptions } from "../server.ts"
import { parseTemplates } from "../templates.ts"

const usage = `Usage: tok-dev-server [options]

A Clerk-compatible token server for demos and tests: real RS256 JWTs, a JWKS,
JWT templates and fault injection. Prints two lines,
"tok dev server listening on http://HOST:PORT" and
"tok dev server publishable key pk_…", and runs until SIGINT/SIGTERM.

Server
  --port <n>               TCP port; 0 = a free port chosen by the OS (default 0)
  --host <address>         interface to bind (default 127.0.0.1)
  --secret-key <key>       secret the backend routes require (default: $TOK_SECRET_KEY,
                           else the public dev key sk_test_tok_dev_server_not_a_secret)
  --token-lifetime <s>     session token lifetime in seconds (default 60)
  --templates <file>       JSON object of JWT templates by name, added to the defaults
                           (supabase, hasura, firebase)
  --signing-key <file>     RSA private key, PEM or JWK (default: a fresh key each start)
  --cors-origin <origin>   allow this browser origin; repeat for more; "*" allows any
                           (default: any http(s) origin on localhost, 127.0.0.1, [::1])
  --allowed-host <name>    accept requests with this Host name; repeat for more; "*" any
                           (default: bound to loopback, only 127.0.0.1, localhost, [::1])
  --max-body <bytes>       largest request body accepted (default 65536)
  --instance <kind>        the Clerk instance it stands in for: production (default; a
                           pk_live_ key) or development (a pk_test_ key; Frontend API
                           token routes require a dev-browser token, POST /v1/dev_browser,
                           as the __clerk_db_jwt query parameter)
  --verbose                log one line per request to stderr

Faults, on token requests only (change them at run time: POST /__tok/faults)
  --latency <ms>           delay every token answer
  --fail-next <n>          answer the next n token requests with --fail-status
  --fail-for <ms>          answer every token request with --fail-status for this long
  --fail-status <code>     status for --fail-next and --fail-for (default 503)
  --rate-limit-next <n>    answer the next n token requests 429 with Retry-After
  --retry-after <s>        Retry-After of those failures (429: 1 unless given)
  --drop-next <n>          destroy the connection of the next n token requests
  --malformed-next <n>     answer the next n tokens 200 with a broken body
  --malformed-body <kind>  ${malformedBodies.join(" | ")} (default html)
  --no-exp-next <n>        sign the next n tokens without exp
  --clock-skew <s>         the server clock is off by s seconds; negative: --clock-skew=-30

  -h, --help               show this help
  --version                show the version
`

const options = {
  port: { type: "string" },
  host: { type: "string" },
  "secret-key": { type: "string" },
  "token-lifetime": { type: "string" },
  templates: { type: "string" },
  "signing-key": { type: "string" },
  "cors-origin": { type: "string", multiple: true },
  "allowed-host": { type: "string", multiple: true },
  "max-body": { type: "string" },
  instance: { type: "string" },
  verbose: { type: "boolean" },
  latency: { type: "string" },
  "fail-next": { type: "string" },
  "fail-for": { type: "string" },
  "fail-status": { type: "string" },
  "rate-limit-next": { type: "string" },
  "retry-after": { type: "string" },
  "drop-next": { type: "string" },
  "malformed-next": { type: "string" },
  "malformed-body": { type: "string" },
  "no-exp-next": { type: "string" },
  "clock-skew": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const

/** A flag that cannot be used; its message is shown as is. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = "UsageError"
  }
}

/** What the command line asks for. */
export type Command =
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | { readonly kind: "run"; readonly options: DevServerOptions; readonly files: Files }

/** Files named by flags, read when the server starts. */
export interface Files {
  readonly templates?: string
  readonly signingKey?: string
}

const integer = (flag: string, value: string, min: number, max: number): number => {
  if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag} must be a whole number in [${min}, ${max}], got "${value}"`)
  }
  return Number(value)
}

/** Parses the arguments (without `node` and the script); throws {@link UsageError}. */
export const parseCommand = (argv: readonly string[], env: NodeJS.ProcessEnv): Command => {
  let values
  try {
    ;({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }))
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
  if (values.help) return { kind: "help" }
  if (values.version) return { kind: "version" }
  const num = (flag: keyof typeof values & string, min: number, max: number) => {
    const raw = values[flag]
    return typeof raw === "string" ? integer(flag, raw, min, max) : undefined
  }

  const faults: { -readonly [K in keyof FaultSettings]: FaultSettings[K] } = {}
  const latency = num("latency", 0, 60_000)
  if (latency !== undefined) faults.latencyMs = latency
  const skew = num("clock-skew", -604_800, 604_800)
  if (skew !== undefined) faults.clockSkewSeconds = skew
  const failNext = num("fail-next", 1, 1_000_000)
  const failFor = num("fail-for", 1, 3_600_000)
  const rateLimitNext = num("rate-limit-next", 1, 1_000_000)
  const failStatus = num("fail-status", 400, 599)
  const retryAfter = num("retry-after", 0, 86_400)
  if (failNext !== undefined && rateLimitNext !== undefined) {
    throw new UsageError(
      "use either --fail-next or --rate-limit-next (or --fail-next n --fail-status 429)",
    )
  }
  if (failStatus !== undefined && failNext === undefined && failFor === undefined) {
    throw new UsageError("--fail-status goes with --fail-next or --fail-for")
  }
  if (
    retryAfter !== undefined &&
    failNext === undefined &&
    failFor === undefined &&
    rateLimitNext === undefined
  ) {
    throw new UsageError("--retry-after goes with --fail-next, --fail-for or --rate-limit-next")
  }
  const retry = retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }
  if (failNext !== undefined) faults.fail = { status: failStatus ?? 503, count: failNext, ...retry }
  if (rateLimitNext !== undefined) faults.fail = { status: 429, count: rateLimitNext, ...retry }
  if (failFor !== undefined) faults.failFor = { ms: failFor, status: failStatus ?? 503, ...retry }
  const drop = num("drop-next", 1, 1_000_000)
  if (drop !== undefined) faults.drop = drop
  const noExp = num("no-exp-next", 1, 1_000_000)
  if (noExp !== undefined) faults.noExp = noExp
  const malformedNext = num("malformed-next", 1, 1_000_000)
  const malformedBody = values["malformed-body"]
  if (malformedBody !== undefined && !malformedBodies.includes(malformedBody as MalformedBody)) {
    throw new UsageError(
      `--malformed-body must be one of ${malformedBodies.join(", ")}, got "${malformedBody}"`,
    )
  }
  if (malformedBody !== undefined && malformedNext === undefined) {
    throw new UsageError("--malformed-body goes with --malformed-next")
  }
  if (malformedNext !== undefined) {
    faults.malformed = { count: malformedNext, body: (malformedBody ?? "html") as MalformedBody }
  }

  const port = num("port", 0, 65_535)
  const lifetime = num("token-lifetime", 1, 86_400)
  const maxBody = num("max-body", 1, 64 * 1024 * 1024)
  const secretKey = values["secret-key"] ?? env.TOK_SECRET_KEY
  if (secretKey !== undefined && secretKey.length < 8) {
    throw new UsageError("--secret-key must be at least 8 characters")
  }
  if (values.host === "") throw new UsageError("--host must not be empty")
  const instance = values.instance
  if (instance !== undefined && !(instanceTypes as readonly string[]).includes(instance)) {
    throw new UsageError(`--instance must be development or production, got "${instance}"`)
  }
  const serverOptions: DevServerOptions = {
    ...(port === undefined ? {} : { port }),
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(secretKey === undefined ? {} : { secretKey }),
    ...(lifetime === undefined ? {} : { tokenLifetime: lifetime }),
    ...(maxBody === undefined ? {} : { maxBodyBytes: maxBody }),
    ...(instance === undefined ? {} : { instance: instance as InstanceType }),
    ...(values["cors-origin"] === undefined ? {} : { corsOrigins: values["cors-origin"] }),
    ...(values["allowed-host"] === undefined ? {} : { allowedHosts: values["allowed-host"] }),
    ...(Object.keys(faults).length === 0 ? {} : { faults }),
    ...(values.verbose ? { log: (line: string) => console.error(line) } : {}),
  }
  const files: Files = {
    ...(values.templates === undefined ? {} : { templates: values.templates }),
    ...(values["signing-key"] === undefined ? {} : { signingKey: values["signing-key"] }),
  }
  return { kind: "run", options: serverOptions, files }
}

const readTemplates = async (path: string) => {
  let text: string
  try {
    text = await readFile(path, "utf8")
  } catch {
    throw new UsageError(`--templates: cannot read ${path}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new UsageError(`--templates: ${path} is not valid JSON`)
  }
  try {
    return parseTemplates(value, path)
  } catch (error) {
    throw new UsageError(`--templates: ${(error as Error).message}`)
  }
}

const version = async (): Promise<string> => {
  const text = await readFile(new URL("../../package.json", import.meta.url), "utf8")
  return (JSON.parse(text) as { version: string }).version
}

/**
 * Runs the command; resolves with the exit code once the server has stopped
 * (or at once for help, version and errors).
 */
export const main = async (
  argv: readonly string[],
  io: { out: (text: string) => void; err: (text: string) => void } = {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  },
): Promise<number> => {
  let command: Command
  let options: DevServerOptions
  try {
    command = parseCommand(argv, process.env)
    if (command.kind === "help") {
      io.out(usage)
      return 0
    }
    if (command.kind === "version") {
      io.out(`${await version()}\n`)
      return 0
    }
    const { templates, signingKey } = command.files
    options = {
      ...command.options,
      ...(templates === undefined ? {} : { templates: await readTemplates(templates) }),
      ...(signingKey === undefined
        ? {}
        : {
            signingKey: await loadSigningKey(signingKey).catch((error: Error) => {
              throw new UsageError(`--signing-key: ${error.message}`)
            }),
          }),
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    io.err(`tok-dev-server: ${error.message}\nRun tok-dev-server --help for the options.\n`)
    return 2
  }

  let server
  try {
    server = await startDevServer(options)
  } catch (error) {
    io.err(`tok-dev-server: ${error instanceof Error ? error.message : String(error)}\n`)
    return 1
  }
  io.out(`tok dev server listening on ${server.url}\n`)
  io.out(`tok dev server publishable key ${server.publishableKey} (${server.instance} instance)\n`)

  const running = server
  return new Promise<number>((resolve) => {
    let stopping = false
    // Ctrl-C sends SIGINT, and a supervisor may add SIGTERM: one stop (bounded: it
    // closes every connection) serves them all, and the exit code stays 0. The
    // handlers stay until the process exits (they do not keep it alive), so a late
    // signal is ignored rather than killing the process as it ends.
    const onSignal = () => {
      if (stopping) return
      stopping = true
      void running.stop().then(() => resolve(0))
    }
    process.on("SIGINT", onSignal)
    process.on("SIGTERM", onSignal)
  })
}

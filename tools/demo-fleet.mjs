// `./tools/run demo --fleet` — demo-api as a fleet of two instances sharing
// one Redis (@tok/redis), behind one address that takes turns between them.
//
//   1. starts `redis-server` (from PATH) on a free 127.0.0.1 port, with no
//      persistence; the demo stops it with everything else;
//   2. starts two demo-apis (`--instance api-1`, `api-2`) with `--redis-url`;
//   3. serves one address that sends each request to the next instance in
//      turn, so the pages need no change: every /api/profile answer says
//      which instance served it (`instance`) and where its template token
//      came from (`tokenSource`: "cache", "redis" or "fetch").
import { existsSync } from "node:fs"
import { request as httpRequest, createServer } from "node:http"
import { connect, createServer as createTcpServer } from "node:net"
import { delimiter, join } from "node:path"

/** `redis-server` on PATH (or $REDIS_SERVER), else undefined. */
export const findRedisServer = () => {
  if (process.env.REDIS_SERVER && existsSync(process.env.REDIS_SERVER)) {
    return process.env.REDIS_SERVER
  }
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir !== "" && existsSync(join(dir, "redis-server"))) return join(dir, "redis-server")
  }
  return undefined
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createTcpServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

/** Whether something answers PING on the port. */
const ping = (port) =>
  new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1")
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once("error", () => done(false))
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")))
  })

/** One address for `upstreams`: each request goes to the next one in turn. */
const startRoundRobin = (upstreams) => {
  let next = 0
  const server = createServer((req, res) => {
    const target = new URL(upstreams[next++ % upstreams.length])
    const forward = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    forward.on("error", () => {
      if (!res.headersSent) res.writeHead(502, { "Content-Type": "application/json" })
      res.end(JSON.stringify({ error: { code: "instance_unreachable", message: "Bad gateway." } }))
    })
    req.pipe(forward)
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen({ port: 0, host: "127.0.0.1" }, () => {
      server.off("error", reject)
      server.unref()
      resolve(`http://127.0.0.1:${server.address().port}`)
    })
  })
}

/**
 * Starts Redis, two demo-apis on it and the address in front of them.
 * `start` and `startServer` are the demo's own (its children are stopped
 * with it); `apiArgs` are demo-api's arguments without Redis or a name.
 * Resolves the address the pages call, and what runs behind it.
 */
export const startFleet = async ({ start, startServer, apiArgs, cwd, say }) => {
  const binary = findRedisServer()
  if (binary === undefined) {
    throw new Error("--fleet needs redis-server on PATH (apt-get install redis-server)")
  }
  const port = await freePort()
  const redis = start(
    binary,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  )
  const deadline = Date.now() + 10_000
  while (!(await ping(port))) {
    if (redis.exitCode !== null || Date.now() > deadline) {
      throw new Error(`redis-server did not start on port ${port}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const redisUrl = `redis://127.0.0.1:${port}`
  const instances = []
  for (const name of ["api-1", "api-2"]) {
    instances.push(
      await startServer(
        `demo-api ${name}`,
        [...apiArgs, "--redis-url", redisUrl, "--instance", name],
        cwd,
      ),
    )
  }
  const api = await startRoundRobin(instances)
  say(`redis         ${redisUrl}  (redis-server, no persistence)`)
  instances.forEach((url, i) => say(`demo-api      api-${i + 1} ${url}`))
  return api
}

import { describe, expect, it } from "vitest"
import type { DevServer } from "@tok/dev-server"
import { errorCode, post, raw, rawStatus, request, start } from "./helpers.ts"

/** After any abuse, the server still answers a normal request. */
const stillServes = async (server: DevServer) => {
  const res = await request(server.jwksUrl)
  expect(res.status).toBe(200)
}

describe("malformed and oversized requests get a 4xx, never a 500, and the server goes on", () => {
  it("bad JSON, a JSON non-object, bad UTF-8 and an unsupported content type", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    const url = `${server.url}/v1/client/sessions/${id}/tokens`
    const send = (body: BodyInit, type: string) =>
      request(url, { method: "POST", headers: { "content-type": type }, body })
    const badJson = await send("{not json", "application/json")
    expect(badJson.status).toBe(400)
    expect(errorCode(await badJson.json())).toBe("malformed_request")
    expect((await send("[1,2]", "application/json")).status).toBe(422)
    expect((await send("null", "application/json")).status).toBe(422)
    expect((await send(new Uint8Array([0xff, 0xfe, 0x00]), "application/json")).status).toBe(400)
    expect((await send("<x/>", "application/xml")).status).toBe(415)
    expect((await send("%%%=%zz&&&", "application/x-www-form-urlencoded")).status).toBe(200)
    expect((await send("", "application/json")).status).toBe(200)
    expect((await post(`${server.url}/__tok/faults`, "not an object")).status).toBe(422)
    await stillServes(server)
  })

  it("a body over the limit answers 413, declared or streamed", async () => {
    const server = await start({ maxBodyBytes: 1024 })
    const { id } = server.signIn("user_1")
    const url = `${server.url}/v1/client/sessions/${id}/tokens`
    const big = await request(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ organization_id: "x".repeat(200_000) }),
    })
    expect(big.status).toBe(413)
    expect(errorCode(await big.json())).toBe("request_body_too_large")

    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 64; i++) controller.enqueue(new Uint8Array(512).fill(97))
        controller.close()
      },
    })
    const streamed = await request(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: chunks,
      duplex: "half",
    } as RequestInit)
    expect(streamed.status).toBe(413)

    const declared = await raw(
      server,
      `POST /v1/client/sessions/${id}/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999\r\n\r\n`,
    )
    expect(rawStatus(declared)).toBe(413)
    await stillServes(server)
    expect((await post(url, { organization_id: "small" })).status).toBe(200)
  })

  it("the default limit is 64 KiB", async () => {
    const server = await start()
    const res = await post(`${server.url}/v1/client/sessions`, {
      user_id: "u",
      pad: "x".repeat(70_000),
    })
    expect(res.status).toBe(413)
    expect(
      (await post(`${server.url}/v1/client/sessions`, { user_id: "u", pad: "x".repeat(60_000) }))
        .status,
    ).toBe(200)
  })

  it("unknown routes answer 404 and wrong methods 405 with Allow", async () => {
    const server = await start()
    const unknown = await request(`${server.url}/v2/nothing`)
    expect(unknown.status).toBe(404)
    expect(errorCode(await unknown.json())).toBe("resource_not_found")
    const wrong = await request(`${server.url}/v1/client/sessions`, { method: "PUT" })
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get("allow")).toBe("POST, OPTIONS")
    expect(errorCode(await wrong.json())).toBe("method_not_allowed")
    expect(
      (await request(`${server.url}/v1/client/sessions/s/tokens`, { method: "GET" })).status,
    ).toBe(405)
    expect(
      (await request(`${server.url}/v1/client/sessions//tokens`, { method: "POST" })).status,
    ).toBe(404)
    const head = await request(server.jwksUrl, { method: "HEAD" })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe("")
    await stillServes(server)
  })

  it("garbage methods, request lines and paths answer 400 over raw TCP", async () => {
    const server = await start()
    const answers = await Promise.all([
      raw(server, "FOO BAR\r\n\r\n"),
      raw(server, "G@T / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
      raw(server, "\x00\x01\x02\x03garbage\r\n\r\n"),
      raw(server, "GET /%E0%A4%A HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
      raw(
        server,
        "GET /v1/client/sessions/%ZZ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
      ),
      raw(
        server,
        "POST /v1/client/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n",
      ),
      raw(
        server,
        "POST /v1/client/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      ),
    ])
    for (const answer of answers) {
      expect(rawStatus(answer), answer.slice(0, 80)).toBe(400)
      expect(answer).toContain('"code":"malformed_request"')
    }
    const known = await raw(
      server,
      "PROPFIND /v1/jwks HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    expect(rawStatus(known)).toBe(405)
    await stillServes(server)
  })

  it("headers too large answer 431", async () => {
    const server = await start()
    const res = await raw(
      server,
      `GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(40_000)}\r\n\r\n`,
    )
    expect(rawStatus(res)).toBe(431)
    await stillServes(server)
  })

  it("a client that disconnects mid-body leaves the server unharmed", async () => {
    const server = await start()
    const answer = await raw(
      server,
      'POST /v1/client/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user',
      200,
    )
    expect(answer).toBe("")
    await stillServes(server)
  })

  it("a burst of concurrent mixed requests all get answers below 500", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    const calls = Array.from({ length: 60 }, (_, i) => {
      switch (i % 4) {
        case 0:
          return post(`${server.url}/v1/client/sessions/${id}/tokens`)
        case 1:
          return post(`${server.url}/v1/client/sessions/${id}/tokens/nope`)
        case 2:
          return request(`${server.url}/v1/client/sessions/${id}/tokens`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: "{",
          })
        default:
          return request(`${server.url}/random/${i}`, { method: "DELETE" })
      }
    })
    const statuses = (await Promise.all(calls)).map((res) => res.status)
    expect(statuses.every((status) => status < 500)).toBe(true)
    expect(statuses.filter((status) => status === 200)).toHaveLength(15)
  })
})

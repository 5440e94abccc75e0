import "@angular/compiler"
import "@angular/platform-server/init"
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { HttpClient, provideHttpClient, withFetch, withInterceptors } from "@angular/common/http"
import { Component, inject, provideZonelessChangeDetection, signal, type Type } from "@angular/core"
import { bootstrapApplication, provideClientHydration } from "@angular/platform-browser"
import { provideServerRendering, renderApplication } from "@angular/platform-server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTokenClient, provideTok, type TokClient, tokInterceptor } from "@tok/angular"
import { makeFakeSource } from "@tok/core/testing"
import { serverHtml } from "./fixtures/server-html.ts"
import { shell, TokenPage } from "./fixtures/token-page.ts"

/** A real API on 127.0.0.1 that records the headers it was sent. */
let api: Server
let apiOrigin: string
const seen: Array<IncomingHttpHeaders> = []

beforeAll(async () => {
  api = createServer((request, response) => {
    seen.push(request.headers)
    response.writeHead(200, { "content-type": "application/json" })
    response.end(JSON.stringify({ name: "Ada" }))
  })
  await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve))
  apiOrigin = `http://127.0.0.1:${(api.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise((resolve) => api.close(resolve))
})

@Component({ selector: "tok-page", template: `<p id="me">{{ me() }}</p>` })
class ApiPage {
  protected readonly me = signal("…")
  constructor() {
    inject(HttpClient)
      .get<{ name: string }>(`${apiOrigin}/me`)
      .subscribe((body) => this.me.set(body.name))
  }
}

/** A server-side client that even holds tokens for both keys: they must not reach the HTML. */
const serverClient = async () => {
  const source = makeFakeSource()
  const client = createTokenClient({ source: source.layer, session: "sess_1" })
  await client.getToken()
  await client.getToken({ template: "db" })
  return { source, client, before: source.requests.length }
}

const renderOnServer = (page: Type<unknown>, client: TokClient) =>
  renderApplication(
    (context) =>
      bootstrapApplication(
        page,
        {
          providers: [
            provideServerRendering(),
            provideZonelessChangeDetection(),
            provideClientHydration(),
            provideTok({ client, authorizedOrigins: [apiOrigin] }),
            provideHttpClient(withFetch(), withInterceptors([tokInterceptor])),
          ],
        },
        context,
      ),
    { document: shell, url: "https://app.example.com/", allowedHosts: ["app.example.com"] },
  )

describe("server rendering (renderApplication from @angular/platform-server)", () => {
  it("TokenService and injectToken render the initial state: no token request, no token in the HTML", async () => {
    const { source, client, before } = await serverClient()
    const html = await renderOnServer(TokenPage, client)
    expect(/<body>([\s\S]*)<\/body>/.exec(html)![1]).toBe(serverHtml)
    expect(html).not.toContain("eyJ")
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(source.requests.length - before).toBe(0)
    await client.dispose()
  })

  it("tokInterceptor sends a request to an authorized origin without a token and asks tok nothing", async () => {
    const { source, client, before } = await serverClient()
    const html = await renderOnServer(ApiPage, client)
    expect(html).toContain('<p id="me">Ada</p>')
    expect(html).not.toContain("eyJ")
    expect(seen).toHaveLength(1)
    expect(seen[0]!.authorization).toBeUndefined()
    expect(source.requests.length - before).toBe(0)
    await client.dispose()
  })
})

// @vitest-environment node
import { Suspense, type ReactNode } from "react"
import { renderToString } from "react-dom/server"
import { renderToReadableStream } from "react-dom/server.browser"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import {
  createTokenClient,
  type TokClient,
  TokProvider,
  useSuspenseToken,
  useToken,
} from "@tok/react"
import { inspectClient, makeFakeSource, type FakeSource } from "@tok/core/testing"

let source: FakeSource
let client: TokClient

beforeEach(async () => {
  vi.useFakeTimers()
  source = makeFakeSource()
  // A server-side client that already holds a token: rendering must not show it.
  client = createTokenClient({ source: source.layer, session: "sess_1" })
  await client.getToken({ template: "t" })
  expect(source.requests).toHaveLength(1)
})

afterEach(async () => {
  await client.dispose()
  vi.useRealTimers()
})

const Token = () => {
  const { status, token } = useToken({ template: "t" })
  return (
    <p>
      {status}:{token ?? "none"}
    </p>
  )
}
const SuspenseToken = () => {
  const { status, token } = useSuspenseToken({ template: "t" })
  return (
    <p>
      suspense {status}:{token ?? "none"}
    </p>
  )
}
const page = (): ReactNode => (
  <TokProvider client={client}>
    <Token />
    <Suspense fallback={<p>fallback</p>}>
      <SuspenseToken />
    </Suspense>
  </TokProvider>
)

/** After a server render: no request, nothing subscribed, no timer. */
const expectNothingStarted = async () => {
  await vi.advanceTimersByTimeAsync(10 * 60_000)
  expect(source.requests).toHaveLength(1)
  expect(inspectClient(client)).toMatchObject({ fibers: 0, requests: 0, watchedKeys: 0 })
  expect(vi.getTimerCount()).toBe(0)
}

describe("server rendering", () => {
  it("renderToString makes no request and writes no token into the HTML", async () => {
    const html = renderToString(page())
    // React's markers aside (`<!-- -->`, `<!--$-->`): the loading state, not the fallback.
    expect(html.replace(/<!--.*?-->/g, "")).toBe("<p>loading:none</p><p>suspense loading:none</p>")
    expect(html).not.toContain("eyJ")
    await expectNothingStarted()
  })

  it("renderToReadableStream makes no request and writes no token into the HTML", async () => {
    const stream = await renderToReadableStream(page())
    await stream.allReady
    const html = await new Response(stream).text()
    expect(html.replace(/<!--.*?-->/g, "")).toContain(
      "<p>loading:none</p><p>suspense loading:none</p>",
    )
    expect(html).not.toContain("fallback")
    expect(html).not.toContain("eyJ")
    await expectNothingStarted()
  })
})

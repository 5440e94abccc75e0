/**
 * A client that is gone stays gone (issue 21): `dispose()` empties the cache,
 * and neither face answers or fetches afterwards — the Effect API's client
 * after its scope closed included — and no watcher is left listening to the
 * page's lifecycle (DESIGN §2.7: nothing leaks).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { createTokenClient, Lifecycle, TokenClient } from "@tok/core"
import {
  inspectClient,
  makeFakeSource,
  makeTestLifecycle,
  type TestLifecycle,
  testClientLayer,
} from "@tok/core/testing"

describe("after dispose", () => {
  it("the Promise face's cache is empty and no call reaches the source", async () => {
    const source = makeFakeSource()
    const tok = createTokenClient({ source: source.layer, session: "sess_1" })
    await tok.getToken()
    await tok.getToken({ template: "a" })
    expect(inspectClient(tok).cachedTokens).toBe(2)
    await tok.dispose()
    expect(inspectClient(tok).cachedTokens).toBe(0)
    await expect(tok.getToken()).rejects.toMatchObject({ name: "AbortError" })
    expect(source.requests).toHaveLength(2)
  })

  it.effect(
    "the Effect API's client, once its scope closed, is interrupted and fetches nothing",
    () =>
      Effect.gen(function* () {
        const source = makeFakeSource()
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(testClientLayer(source), scope)
        const tok = Context.get(context, TokenClient.TokenClient)
        yield* tok.setSession("sess_1")
        yield* tok.getToken()
        expect(inspectClient(tok).cachedTokens).toBe(1)
        yield* Scope.close(scope, Exit.void)
        expect(inspectClient(tok).cachedTokens).toBe(0)
        const exit = yield* Effect.exit(tok.getToken())
        expect(Exit.hasInterrupts(exit)).toBe(true)
        expect(source.requests).toHaveLength(1)
      }),
  )

  it("no watcher still listens for the page's resume events, and a resume fetches nothing", async () => {
    const base = makeTestLifecycle()
    let listening = 0
    const counted: TestLifecycle = {
      ...base,
      onResume: (listener) => {
        listening += 1
        const off = base.onResume(listener)
        let done = false
        return () => {
          if (!done) listening -= 1
          done = true
          off()
        }
      },
    }
    const source = makeFakeSource()
    const tok = createTokenClient({
      source: source.layer,
      session: "sess_1",
      lifecycle: Lifecycle.layerTest(counted),
    })
    const watchers = [tok.watch(), tok.watch({ template: "a" })]
    for (const watcher of watchers) watcher.subscribe(() => undefined)
    await Promise.all(watchers.map((watcher) => watcher.refresh()))
    expect(listening).toBe(2)
    const requests = source.requests.length
    await tok.dispose()
    expect(listening).toBe(0)
    counted.focus()
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(source.requests).toHaveLength(requests)
  })
})

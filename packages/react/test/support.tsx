import { act } from "@testing-library/react"
import { vi } from "vitest"
import type { TokClient, TokenWatcher } from "@tok/react"

/** Lets fibers, promises, microtasks and React's updates run without moving the clock. */
export const settle = async (): Promise<void> => {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(0)
  })
}

/** Moves the fake clock inside `act`, so React renders what changed. */
export const advance = async (ms: number): Promise<void> => {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms)
  })
}

/** `client`, counting the subscriptions made on its watch handles (live ones and all). */
export const countingSubscriptions = (
  client: TokClient,
): {
  readonly client: TokClient
  readonly subscribes: () => number
  readonly live: () => number
} => {
  let subscribes = 0
  let live = 0
  const watch = (options?: Parameters<TokClient["watch"]>[0]): TokenWatcher => {
    const watcher = client.watch(options)
    return {
      getSnapshot: watcher.getSnapshot,
      refresh: watcher.refresh,
      subscribe: (listener) => {
        subscribes++
        live++
        const stop = watcher.subscribe(listener)
        let done = false
        return () => {
          if (!done) live--
          done = true
          stop()
        }
      },
    }
  }
  const counted = new Proxy(client, {
    get: (target, property) => (property === "watch" ? watch : Reflect.get(target, property)),
  })
  return { client: counted, subscribes: () => subscribes, live: () => live }
}

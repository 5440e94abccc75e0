/**
 * `TokenCache` — where tokens are kept between requests.
 *
 * In memory only (DESIGN §2.7), bounded by `maxEntries`. When a full cache
 * takes a new key it evicts an expired token first, else the least recently
 * used one, in constant time: a linked list in order of use (a hit moves its
 * token to the end), and a linked queue per token lifetime in order of
 * arrival — within a lifetime, that is the order of expiry, so the head of
 * each queue is the first of it to expire. (Deleting at the head of a `Map`
 * and reading its first entry again is not constant time in V8.) The
 * methods are plain synchronous functions, not Effects, on purpose: a cache
 * hit is the hot path of every API call and the Promise face answers it
 * without entering the Effect runtime.
 * @module
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { unrefClock } from "./internal/clock.ts"
import type { Token } from "./Token.ts"

/** The shape of a token cache. Keys are made by the client. */
export interface Service {
  /** The token under `key`, marked as just used; `undefined` when absent. */
  readonly get: (key: string) => Token | undefined
  /** Stores `token` under `key`; a full cache evicts an expired token first, else the least recently used. */
  readonly set: (key: string, token: Token) => void
  /** Drops `key`. */
  readonly delete: (key: string) => void
  /** Every key and token, for filters (`invalidate`, sign-out). */
  readonly entries: () => IterableIterator<[string, Token]>
  /** How many tokens are kept. */
  readonly size: () => number
  /** Drops everything. */
  readonly clear: () => void
}

/** The token cache service. */
export class TokenCache extends Context.Service<TokenCache, Service>()("@tok/core/TokenCache") {}

/** Options of the in-memory cache. */
export interface Options {
  /** How many tokens to keep at most (default 1000). */
  readonly maxEntries?: number | undefined
  /** What "expired" is measured against (default: the host clock). */
  readonly clock?: Clock.Clock | undefined
}

/** The default bound. */
export const defaultMaxEntries = 1000

/**
 * Lifetimes with a queue of their own; tokens of any other lifetime share one
 * (in arrival order, so there an expired token behind a live one is found
 * only as the least recently used). A queue emptied is dropped.
 */
const MAX_LIFETIME_QUEUES = 16
const MIXED = -1

/** A cached token, linked into the recency list and into its lifetime's queue. */
interface Slot {
  readonly key: string
  token: Token
  /** Recency list: toward the least (`older`) and the most (`newer`) recently used. */
  older: Slot | undefined
  newer: Slot | undefined
  /** Its lifetime's queue, in order of arrival. */
  queue: Queue
  before: Slot | undefined
  after: Slot | undefined
}

interface Queue {
  readonly id: number
  first: Slot | undefined
  last: Slot | undefined
}

/** Makes an in-memory cache: expired first out, then least recently used. */
export const make = (options: Options = {}): Service => {
  const maxEntries = options.maxEntries ?? defaultMaxEntries
  const clock = options.clock ?? unrefClock
  const slots = new Map<string, Slot>()
  /** The recency list's ends: least and most recently used. */
  let oldest: Slot | undefined
  let newest: Slot | undefined
  const queues = new Map<number, Queue>()

  const queueFor = (token: Token): Queue => {
    const lifetime = token.expiresAt - token.issuedAt
    const id = queues.has(lifetime) || queues.size < MAX_LIFETIME_QUEUES ? lifetime : MIXED
    let queue = queues.get(id)
    if (queue === undefined) queues.set(id, (queue = { id, first: undefined, last: undefined }))
    return queue
  }

  const enqueue = (slot: Slot): void => {
    const queue = (slot.queue = queueFor(slot.token))
    slot.before = queue.last
    slot.after = undefined
    if (queue.last === undefined) queue.first = slot
    else queue.last.after = slot
    queue.last = slot
  }

  const dequeue = (slot: Slot): void => {
    const queue = slot.queue
    if (slot.before === undefined) queue.first = slot.after
    else slot.before.after = slot.after
    if (slot.after === undefined) queue.last = slot.before
    else slot.after.before = slot.before
    if (queue.first === undefined) queues.delete(queue.id)
  }

  const unlink = (slot: Slot): void => {
    if (slot.older === undefined) oldest = slot.newer
    else slot.older.newer = slot.newer
    if (slot.newer === undefined) newest = slot.older
    else slot.newer.older = slot.older
  }

  const append = (slot: Slot): void => {
    slot.older = newest
    slot.newer = undefined
    if (newest === undefined) oldest = slot
    else newest.newer = slot
    newest = slot
  }

  const remove = (slot: Slot): void => {
    slots.delete(slot.key)
    unlink(slot)
    dequeue(slot)
  }

  /** Drops one token: an expired one at the head of a queue, else the least recently used. */
  const evictOne = (): void => {
    const now = clock.currentTimeMillisUnsafe()
    for (const queue of queues.values()) {
      // Stryker disable next-line ConditionalExpression: an empty queue is deleted at once, so every queue in the map has a first slot
      if (queue.first !== undefined && queue.first.token.expiresAt <= now)
        return remove(queue.first)
    }
    if (oldest !== undefined) remove(oldest)
  }

  return {
    get: (key) => {
      const slot = slots.get(key)
      if (slot === undefined) return undefined
      if (slot !== newest) {
        unlink(slot)
        append(slot)
      }
      return slot.token
    },
    set: (key, token) => {
      const existing = slots.get(key)
      if (existing !== undefined) {
        dequeue(existing)
        existing.token = token
        enqueue(existing)
        if (existing !== newest) {
          unlink(existing)
          append(existing)
        }
        return
      }
      if (slots.size >= maxEntries) evictOne()
      const slot: Slot = {
        key,
        token,
        older: undefined,
        newer: undefined,
        queue: undefined as unknown as Queue,
        before: undefined,
        after: undefined,
      }
      enqueue(slot)
      append(slot)
      slots.set(key, slot)
    },
    delete: (key) => {
      const slot = slots.get(key)
      if (slot !== undefined) remove(slot)
    },
    entries: function* () {
      for (const [key, slot] of slots) yield [key, slot.token]
    },
    size: () => slots.size,
    clear: () => {
      slots.clear()
      queues.clear()
      oldest = newest = undefined
    },
  }
}

/** The in-memory cache as a layer, on the context's `Clock`. */
export const layer = (options: Options = {}): Layer.Layer<TokenCache> =>
  Layer.effect(
    TokenCache,
    Clock.clockWith((clock) => Effect.succeed(make({ ...options, clock: options.clock ?? clock }))),
  )

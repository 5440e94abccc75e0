/**
 * `TokenCache` — where tokens are kept between requests.
 *
 * In memory only (DESIGN §2.7), bounded by `maxEntries`: when full, the least
 * recently used token goes first. The methods are plain synchronous functions,
 * not Effects, on purpose: a cache hit is the hot path of every API call and
 * the Promise face answers it without entering the Effect runtime. Recency is
 * a counter stamped on each read (no `Map` reshuffling), and eviction scans
 * for the oldest stamp, which happens only when a full cache takes a new key.
 * @module
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import type { Token } from "./Token.ts"

/** The shape of a token cache. Keys are made by the client. */
export interface Service {
  /** The token under `key`, marked as just used; `undefined` when absent. */
  readonly get: (key: string) => Token | undefined
  /** Stores `token` under `key`, evicting the least recently used key when full. */
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
}

/** The default bound. */
export const defaultMaxEntries = 1000

interface Slot {
  token: Token
  used: number
}

/** Makes an in-memory LRU cache. */
export const make = (options: Options = {}): Service => {
  const maxEntries = options.maxEntries ?? defaultMaxEntries
  const slots = new Map<string, Slot>()
  let tick = 0
  const evictOldest = () => {
    let oldestKey: string | undefined
    let oldest = Infinity
    for (const [key, slot] of slots) {
      if (slot.used < oldest) {
        oldest = slot.used
        oldestKey = key
      }
    }
    if (oldestKey !== undefined) slots.delete(oldestKey)
  }
  return {
    get: (key) => {
      const slot = slots.get(key)
      if (slot === undefined) return undefined
      slot.used = ++tick
      return slot.token
    },
    set: (key, token) => {
      const slot = slots.get(key)
      if (slot !== undefined) {
        slot.token = token
        slot.used = ++tick
        return
      }
      if (slots.size >= maxEntries) evictOldest()
      slots.set(key, { token, used: ++tick })
    },
    delete: (key) => {
      slots.delete(key)
    },
    entries: function* () {
      for (const [key, slot] of slots) yield [key, slot.token]
    },
    size: () => slots.size,
    clear: () => slots.clear(),
  }
}

/** The in-memory cache as a layer. */
export const layer = (options: Options = {}): Layer.Layer<TokenCache> =>
  Layer.sync(TokenCache, () => make(options))

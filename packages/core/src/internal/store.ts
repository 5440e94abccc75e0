/**
 * The store: the client's view of its `TokenCache` — what is usable now,
 * the monotonic write (an older request never replaces a newer token), and
 * dropping by session or filter.
 * @internal
 */
import type * as Clock from "effect/Clock"
import type * as Token from "../Token.ts"
import type * as TokenCache from "../TokenCache.ts"
import type { TokenRequest } from "../TokenSource.ts"

/** Tokens of one client, over a `TokenCache` and a `Clock`. */
export class Store {
  private readonly cache: TokenCache.Service
  private readonly clock: Clock.Clock
  private readonly bufferMillis: number
  /** Which request each cached token came from (its start order). */
  private readonly origins = new WeakMap<Token.Token, number>()

  constructor(cache: TokenCache.Service, clock: Clock.Clock, bufferMillis: number) {
    this.cache = cache
    this.clock = clock
    this.bufferMillis = bufferMillis
  }

  /** The cached token of `key` if it is good for `bufferMillis` more. */
  usable(key: string, bufferMillis: number): Token.Token | undefined {
    const token = this.cache.get(key)
    return token !== undefined &&
      this.clock.currentTimeMillisUnsafe() + bufferMillis < token.expiresAt
      ? token
      : undefined
  }

  /** The cached token of `key`, usable or not. */
  held(key: string): Token.Token | undefined {
    return this.cache.get(key)
  }

  /**
   * Caches a fresh token unless the cached one came from a request that
   * started later (DESIGN's monotonic cache): a slow old request never
   * replaces a newer token, and a `skipCache` result is always cached, even
   * when the server now issues shorter tokens. Returns what was cached.
   */
  put(key: string, token: Token.Token, seq: number): Token.Token | undefined {
    const existing = this.cache.get(key)
    if (existing !== undefined) {
      // Stryker disable next-line EqualityOperator: every put carries its own start order, so an equal one never comes; > and >= agree
      if ((this.origins.get(existing) ?? 0) > seq) return undefined
      // A token too short-lived to be answered from the cache never evicts one that is.
      const now = this.clock.currentTimeMillisUnsafe()
      const buffer = this.bufferMillis
      if (now + buffer < existing.expiresAt && now + buffer >= token.expiresAt) return undefined
    }
    const cached: Token.Token = { ...token, source: "cache" }
    this.origins.set(cached, seq)
    this.cache.set(key, cached)
    return cached
  }

  /** Drops every token whose request matches. */
  drop(matches: (request: TokenRequest) => boolean): void {
    for (const [key, token] of [...this.cache.entries()]) {
      if (matches(token)) this.cache.delete(key)
    }
  }

  /** How many tokens are cached. */
  size(): number {
    return this.cache.size()
  }

  /** Drops everything. */
  clear(): void {
    this.cache.clear()
  }
}

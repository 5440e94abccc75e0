/**
 * The session: the current id, its generation (bumped on every change, so a
 * request can tell it was for an earlier session without timing luck), what
 * follows from the id (a problem with it, the key of its plain token), and
 * the listeners told of each change.
 * @internal
 */
import type { InvalidOptionsError } from "../TokenError.ts"
import { keyOf } from "./keys.ts"
import { checkSessionId } from "./options.ts"

/** The current session of one client. */
export class Session {
  /** The current session id; `null` when signed out. */
  id: string | null = null
  /** Bumped on every change. */
  generation = 0
  /** Bumped whenever a session ends: a sign-out, a switch away from one, a 401. */
  ends = 0
  /** Why the current id cannot be used, if it cannot. */
  problem: InvalidOptionsError | undefined
  /** The cache key of the current session's plain token, when there is one. */
  defaultKey: string | undefined
  private readonly listeners = new Set<(sessionId: string | null) => void>()

  /** Calls `listener` with the new id on every change; returns the unsubscribe function. */
  onChange(listener: (sessionId: string | null) => void): () => void {
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }

  /** Moves to `sessionId` (a new generation); returns the previous id. */
  set(sessionId: string | null): string | null {
    const previous = this.id
    this.id = sessionId
    // Stryker disable next-line UpdateOperator: generations are only compared for equality, so counting down tells changes apart as well
    this.generation++
    // Stryker disable next-line ConditionalExpression: `problem` is read only while a session is set (every reader checks for null first)
    this.problem = sessionId === null ? undefined : checkSessionId(sessionId, "session id")
    // Stryker disable ConditionalExpression,LogicalOperator,EqualityOperator: `defaultKey` is the Promise face's fast path; without it (or with a key nothing is cached under) a call takes the slow path to the same answer
    this.defaultKey =
      sessionId !== null && this.problem === undefined
        ? keyOf(sessionId, undefined, undefined)
        : undefined
    // Stryker restore ConditionalExpression,LogicalOperator,EqualityOperator
    return previous
  }

  /** Tells the listeners that the session is now `sessionId`. */
  tell(sessionId: string | null): void {
    for (const listener of [...this.listeners]) {
      // A listener that changed the session again has had everyone told already.
      if (this.id !== sessionId) break
      try {
        listener(sessionId)
      } catch (error) {
        reportListenerError(error)
      }
    }
  }
}

/** A listener threw: reported to the host, never stopping the other listeners. */
export const reportListenerError = (error: unknown): void => {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError
  if (typeof report === "function") report(error)
  else console.error("tok: a listener threw", error)
}

/**
 * tok's spans through Effect's `Tracer`: what `TokenMetrics.tracing` puts in
 * the context. Only `TokenMetrics` imports this, so an app without tracing
 * bundles none of it.
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"
import type { TokenRequest } from "../TokenSource.ts"
import { Attributes, Spans } from "./names.ts"
import { failureReason } from "./reasons.ts"
import type { Tracing } from "./recorder.ts"

/** The key's parts as span attributes; the session id only when asked. */
const keyAttributes = (request: TokenRequest, withSession: boolean): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {}
  if (request.template !== undefined) attributes[Attributes.template] = request.template
  if (request.organizationId !== undefined) {
    attributes[Attributes.organizationId] = request.organizationId
  }
  if (withSession) attributes[Attributes.sessionId] = request.sessionId
  return attributes
}

const inSpan = <A, E>(
  name: string,
  attributes: Record<string, unknown>,
  root: boolean,
  body: (span: Tracer.Span) => Effect.Effect<A, E>,
): Effect.Effect<A, E> =>
  Effect.useSpan(name, { kind: "client", root, attributes }, (span) =>
    Effect.withParentSpan(body(span), span),
  )

/** Spans on the context's `Tracer`. */
export const tracing: Tracing = {
  request: (request, withSession, cause, skipCache, body) => {
    const attributes = keyAttributes(request, withSession)
    attributes[Attributes.cause] = cause
    attributes[Attributes.skipCache] = skipCache
    return inSpan(Spans.request, attributes, true, body)
  },
  attempt: (request, withSession, attempt, body) => {
    const attributes = keyAttributes(request, withSession)
    attributes[Attributes.attempt] = attempt
    return inSpan(Spans.attempt, attributes, false, body)
  },
  refresh: (request, withSession, body) =>
    inSpan(Spans.refresh, keyAttributes(request, withSession), true, () => body),
  attemptFailed: (span, reason, status) => {
    span.attribute(Attributes.errorTag, "TokenSourceError")
    span.attribute(Attributes.errorReason, reason)
    if (status !== undefined) span.attribute(Attributes.httpStatus, status)
  },
  requestEnded: (span, attempts, origin, fenced, error) => {
    span.attribute(Attributes.attempts, attempts)
    span.attribute(Attributes.origin, origin)
    span.attribute(Attributes.fenced, fenced)
    if (error === undefined) return
    span.attribute(Attributes.errorTag, error === "defect" ? "Defect" : error._tag)
    span.attribute(Attributes.errorReason, failureReason(error))
    const status = error === "defect" ? undefined : (error as { status?: unknown }).status
    if (typeof status === "number") span.attribute(Attributes.httpStatus, status)
  },
}

/**
 * Keys: the cache key of a (session, template, organization), the id that
 * makes watch handles of one key and buffer share a refresher, and the
 * `invalidate` filter that matches requests.
 * @internal
 */
import { InvalidOptionsError } from "../TokenError.ts"
import type { TokenRequest } from "../TokenSource.ts"
import type { Checked } from "./options.ts"

/** A control character: ids never contain one (options.ts refuses them). */
const SEP = "\u0000"

/** The cache key of (session, template, organization). */
export const keyOf = (
  sessionId: string,
  template: string | undefined,
  organizationId: string | undefined,
): string =>
  organizationId === undefined
    ? template === undefined
      ? sessionId
      : sessionId + SEP + template
    : // Stryker disable next-line StringLiteral: "" stands for "no template" because no template may be empty; another constant would differ only for a template of that very name
      sessionId + SEP + (template ?? "") + SEP + SEP + organizationId

/** The id of a watched key: handles with the same id share one refresher. */
export const watchIdOf = (checked: Checked): string =>
  // Stryker disable next-line StringLiteral: "" stands for "not given" because no given id may be empty; another constant would differ only for an id of that very name
  [checked.sessionId ?? "", checked.template ?? "", checked.organizationId ?? ""]
    .concat(String(checked.bufferMillis))
    .join(SEP)

/** Which tokens `invalidate` drops; an omitted field matches everything. */
export interface InvalidateFilter {
  readonly sessionId?: string | undefined
  readonly template?: string | undefined
  readonly organizationId?: string | undefined
}

/** The problem with an `invalidate` filter, if any. */
export const checkFilter = (filter: unknown): InvalidOptionsError | undefined =>
  filter !== undefined && (typeof filter !== "object" || filter === null)
    ? new InvalidOptionsError({ detail: "the invalidate filter must be an object" })
    : undefined

/** Whether a request (or a token, which names its request) matches `filter`. */
export const matcher =
  (filter: InvalidateFilter | undefined) =>
  (request: TokenRequest): boolean =>
    (filter?.sessionId === undefined || filter.sessionId === request.sessionId) &&
    (filter?.template === undefined || filter.template === request.template) &&
    (filter?.organizationId === undefined ||
      (filter.organizationId === "" ? undefined : filter.organizationId) === request.organizationId)

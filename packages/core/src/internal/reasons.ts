/**
 * The `reason` of a failed request, for metric labels, span attributes and events.
 * @internal
 */
import type { TokenError } from "../TokenError.ts"

/** One per way a request ends badly. */
export type FailureReason =
  | "network"
  | "timeout"
  | "server"
  | "rate-limited"
  | "signed-out"
  | "template-not-found"
  | "rejected"
  | "malformed"
  | "invalid-options"
  | "defect"

/** What a failed request is. */
export const failureReason = (error: TokenError | "defect"): FailureReason => {
  if (error === "defect") return "defect"
  switch (error._tag) {
    case "TokenUnavailableError":
      return error.reason
    case "NotSignedInError":
      return "signed-out"
    case "TemplateNotFoundError":
      return "template-not-found"
    case "TokenRequestError":
      return "rejected"
    case "MalformedTokenError":
      return "malformed"
    case "InvalidOptionsError":
      return "invalid-options"
  }
}

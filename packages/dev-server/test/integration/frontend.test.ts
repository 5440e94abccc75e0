/** `createTokenClient` with `clerkFrontendApi` against the real dev server. */
import { errorsAreSafe, faultMatrix } from "./matrix.ts"
import { frontendPromise } from "./support.ts"

faultMatrix(frontendPromise)
errorsAreSafe()

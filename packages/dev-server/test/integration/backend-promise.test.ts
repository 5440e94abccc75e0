/** `createTokenClient` with `clerkBackendApi` against the real dev server. */
import { errorsAreSafe, faultMatrix, secretKeyCases } from "./matrix.ts"
import { backendPromise } from "./support.ts"

faultMatrix(backendPromise)
secretKeyCases(backendPromise)
errorsAreSafe()

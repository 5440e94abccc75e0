// The smallest browser app on @tok/core alone: a client, a watcher, a call.
import { clerkFrontendApi, createTokenClient } from "@tok/core"

const tok = createTokenClient({
  source: clerkFrontendApi({ baseUrl: location.origin }),
  session: "sess_1",
})
tok.watch().subscribe((state) => console.log(state.status))
void tok.getToken({ template: "supabase" }).then((token) => console.log(token?.expiresAt))

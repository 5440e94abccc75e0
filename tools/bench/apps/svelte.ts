// A minimal Svelte app on @tok/svelte (Svelte itself is external).
import { clerkFrontendApi, createTokenClient, tokenStore } from "@tok/svelte"

const client = createTokenClient({
  source: clerkFrontendApi({ baseUrl: location.origin }),
  session: "sess_1",
})
tokenStore(client, { template: "supabase" }).subscribe((state) => console.log(state.status))

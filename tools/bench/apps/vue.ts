// A minimal Vue app on @tok/vue (Vue itself is external).
import { createApp, h } from "vue"
import { clerkFrontendApi, createTok, createTokenClient, useToken } from "@tok/vue"

const client = createTokenClient({
  source: clerkFrontendApi({ baseUrl: location.origin }),
  session: "sess_1",
})
createApp({
  setup() {
    const { token, status } = useToken({ template: "supabase" })
    return () => h("p", `${status.value} ${token.value}`)
  },
})
  .use(createTok(client))
  .mount("#app")

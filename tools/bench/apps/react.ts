// A minimal React app on @tok/react (React and react-dom are external).
import { createElement } from "react"
import { createRoot } from "react-dom/client"
import { clerkFrontendApi, createTokenClient, TokProvider, useToken } from "@tok/react"

const client = createTokenClient({
  source: clerkFrontendApi({ baseUrl: location.origin }),
  session: "sess_1",
})
const App = () => {
  const { token, status } = useToken({ template: "supabase" })
  return createElement("p", null, `${status} ${token}`)
}
createRoot(document.querySelector("#app")!).render(
  createElement(TokProvider, { client }, createElement(App)),
)

// Peer: the smallest app that reads a cached user/token with oidc-client-ts.
import { UserManager } from "oidc-client-ts"

const users = new UserManager({
  authority: location.origin,
  client_id: "client",
  redirect_uri: location.href,
})
console.log((await users.getUser())?.access_token)

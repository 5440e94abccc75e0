// Peer: the smallest app that reads a token from Okta's token manager.
import { OktaAuth } from "@okta/okta-auth-js"

const okta = new OktaAuth({ issuer: `${location.origin}/oauth2/default`, clientId: "client" })
console.log(await okta.tokenManager.get("accessToken"))

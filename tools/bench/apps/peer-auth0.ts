// Peer: the smallest app that gets a token from a cache with Auth0's SPA SDK.
import { createAuth0Client } from "@auth0/auth0-spa-js"

const auth0 = await createAuth0Client({ domain: location.host, clientId: "client" })
console.log(await auth0.getTokenSilently())

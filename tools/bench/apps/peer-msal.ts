// Peer: the smallest app that asks MSAL for a token silently (from its cache).
import { PublicClientApplication } from "@azure/msal-browser"

const msal = new PublicClientApplication({ auth: { clientId: "client" } })
await msal.initialize()
console.log(await msal.acquireTokenSilent({ scopes: ["user.read"] }))

/**
 * The Angular demo: zoneless, standalone, signals. One tok client for the
 * page, given to the application with `provideTok`; `tokInterceptor` adds
 * the session token to requests for demo-api's origin. Built by `ng build`
 * (@angular/build's application builder, esbuild), as an Angular app is;
 * the shared stylesheet comes in through angular.json's `styles`.
 */
import { provideHttpClient, withFetch, withInterceptors } from "@angular/common/http"
import { provideZonelessChangeDetection } from "@angular/core"
import { bootstrapApplication } from "@angular/platform-browser"
import { createTokenClient, provideTok, tokInterceptor } from "@tok/angular"
import { App } from "./app.ts"
import { DEMO_CONFIG } from "./app.config.ts"
import { DEMO_BUFFER_SECONDS, startDemo } from "@tok/demo-shared"

/** The adapter calls that drive the page, for its code panel. */
const CODE = `
// main.ts — one client, and the interceptor that adds the session token:
provideTok({ client: createTokenClient({ source, expirationBuffer: 5 }),
             authorizedOrigins: [config.api] }),
provideHttpClient(withInterceptors([tokInterceptor])),
// app.ts — the token shown, as signals, kept fresh while the page is open:
readonly tok = injectToken(() => ({ template: this.template() || undefined }))
// tok.status() tok.token() tok.expiresAt() · tok.refresh()
// "Call API" — a plain HttpClient call; tokInterceptor sends the token:
this.http.get(\`\${config.api}/api/profile\`)
`

// A 5 s buffer (with the demo's 20 s tokens) shows a refresh in the first minute.
await startDemo({
  adapter: "@tok/angular",
  code: CODE,
  root: document.body,
  client: (source) => createTokenClient({ source, expirationBuffer: DEMO_BUFFER_SECONDS }),
  mount: async (client, config) => {
    await bootstrapApplication(App, {
      providers: [
        provideZonelessChangeDetection(),
        { provide: DEMO_CONFIG, useValue: config },
        provideTok({ client, authorizedOrigins: [config.api] }),
        provideHttpClient(withFetch(), withInterceptors([tokInterceptor])),
      ],
    })
  },
})

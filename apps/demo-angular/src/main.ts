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
import {
  DEMO_BUFFER_SECONDS,
  demoSource,
  loadConfig,
  showDevtools,
  showLab,
} from "@tok/demo-shared"

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

try {
  const config = await loadConfig()
  // A Clerk development instance: the dev browser is set up as clerk-js would,
  // and the source is clerkFrontendApi({ publishableKey }) (see @tok/demo-shared).
  // A 5 s buffer (with the demo's 20 s tokens) shows a refresh in the first minute.
  const client = createTokenClient({
    source: await demoSource(config),
    expirationBuffer: DEMO_BUFFER_SECONDS,
  })
  showDevtools(client)
  showLab({ config, client, adapter: "@tok/angular", code: CODE })
  await bootstrapApplication(App, {
    providers: [
      provideZonelessChangeDetection(),
      { provide: DEMO_CONFIG, useValue: config },
      provideTok({ client, authorizedOrigins: [config.api] }),
      provideHttpClient(withFetch(), withInterceptors([tokInterceptor])),
    ],
  })
} catch (error) {
  document.body.textContent = error instanceof Error ? error.message : String(error)
  document.body.className = "page error"
}

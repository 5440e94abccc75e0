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
import { demoSource, loadConfig, showDevtools } from "@tok/demo-shared"

try {
  const config = await loadConfig()
  // A Clerk development instance: the dev browser is set up as clerk-js would,
  // and the source is clerkFrontendApi({ publishableKey }) (see @tok/demo-shared).
  const client = createTokenClient({ source: await demoSource(config) })
  showDevtools(client)
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

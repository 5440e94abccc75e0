/**
 * The Angular demo: zoneless, standalone, signals. One tok client for the
 * page, given to the application with `provideTok`; `tokInterceptor` adds
 * the session token to requests for demo-api's origin.
 */
import { provideHttpClient, withFetch, withInterceptors } from "@angular/common/http"
import { provideZonelessChangeDetection } from "@angular/core"
import { bootstrapApplication } from "@angular/platform-browser"
import { clerkFrontendApi, createTokenClient, provideTok, tokInterceptor } from "@tok/angular"
import { App } from "./app.ts"
import { DEMO_CONFIG } from "./app.config.ts"
import { loadConfig, showDevtools } from "@tok/demo-shared"
import "@tok/demo-shared/style.css"

try {
  const config = await loadConfig()
  const client = createTokenClient({ source: clerkFrontendApi({ baseUrl: config.tokenServer }) })
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

// A minimal Angular app's tok part on @tok/angular (Angular and rxjs are external).
import { bootstrapApplication } from "@angular/platform-browser"
import { provideHttpClient, withInterceptors } from "@angular/common/http"
import { Component, inject } from "@angular/core"
import {
  clerkFrontendApi,
  createTokenClient,
  provideTok,
  tokInterceptor,
  TokenService,
} from "@tok/angular"

const client = createTokenClient({
  source: clerkFrontendApi({ baseUrl: location.origin }),
  session: "sess_1",
})

class App {
  readonly tok = inject(TokenService)
}
Component({ selector: "app-root", template: "{{ tok.token() }}" })(App)

void bootstrapApplication(App, {
  providers: [
    provideTok({ client, authorizedOrigins: [location.origin] }),
    provideHttpClient(withInterceptors([tokInterceptor])),
  ],
})

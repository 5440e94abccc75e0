import { InjectionToken } from "@angular/core"
import type { DemoConfig } from "@tok/demo-shared"

/** The demo's `/config.json`, loaded before the application starts. */
export const DEMO_CONFIG = new InjectionToken<DemoConfig>("tok demo config")

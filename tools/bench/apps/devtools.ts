// <tok-devtools> alone: what an app adds to mount the timeline (core is counted apart).
import { mountDevtools } from "@tok/devtools"

declare const tok: Parameters<typeof mountDevtools>[0]
mountDevtools(tok)

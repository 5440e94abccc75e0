/**
 * `@tok/react` — tok for React: `TokProvider`, `useToken(options?)` and
 * `useSuspenseToken(options?)`. Re-exports `@tok/core`, so an app installs
 * one package.
 *
 * @example
 * ```tsx
 * import { createRoot } from "react-dom/client"
 * import { clerkFrontendApi, createTokenClient, TokProvider, useToken } from "@tok/react"
 *
 * const tok = createTokenClient({ source: clerkFrontendApi({ baseUrl }), session: "sess_123" })
 * const App = () => {
 *   const { token, status } = useToken({ template: "supabase" })
 *   return <p>{status}: {token}</p>
 * }
 * createRoot(root).render(<TokProvider client={tok}><App /></TokProvider>)
 * ```
 * @packageDocumentation
 */
export * from "@tok/core"
export {
  TokContext,
  TokProvider,
  type TokProviderProps,
  useSuspenseToken,
  useTokClient,
  useToken,
  type UseTokenOptions,
  type UseTokenResult,
} from "./useToken.ts"

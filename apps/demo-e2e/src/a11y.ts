/**
 * An accessibility check of a page with axe-core: its source is injected into
 * the page and run there; what comes back is every serious or critical
 * violation, as `rule: target…` lines (empty when there are none).
 * @module
 */
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import type { Page } from "playwright-core"

const require = createRequire(import.meta.url)
let source: Promise<string> | undefined

/** Runs axe-core (WCAG 2 A/AA rules) on `page`; resolves its serious and critical violations. */
export const checkA11y = async (page: Page): Promise<string[]> => {
  source ??= readFile(require.resolve("axe-core/axe.min.js"), "utf8")
  const loaded = await page.evaluate(() => "axe" in globalThis)
  if (!loaded) await page.addScriptTag({ content: await source })
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as { axe: { run: (...args: unknown[]) => Promise<unknown> } }
    ).axe
    const result = (await axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    })) as {
      violations: Array<{ id: string; impact: string; nodes: Array<{ target: unknown[] }> }>
    }
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.map((node) => JSON.stringify(node.target)),
    }))
  })
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.targets.join(", ")}`)
}

// Whether a measured value meets its budget: `max`, `min` or `eq` (budgets.json).

/** `{ ok, bound }` for `value` against `budget`. */
export const verdict = (value, budget) => {
  const number = typeof value === "number" && Number.isFinite(value)
  if ("eq" in budget) return { ok: number && value === budget.eq, bound: `= ${budget.eq}` }
  if ("min" in budget) return { ok: number && value >= budget.min, bound: `≥ ${budget.min}` }
  return { ok: number && value <= budget.max, bound: `≤ ${budget.max}` }
}

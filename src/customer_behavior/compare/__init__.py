"""What changed between two runs: segment migration, customers slipping away, KPI deltas,
persona and CLV drift, and recommendations (`customer-behavior compare BASE NEW`).

Modules by concern: `runs` (finding and checking the two runs), `migration`, `slipping`,
`kpis`, `drift` (personas and the CLV parameters), `recommend`, `render` (compare.html) and
`workflow` (the actions and the output directory). See docs/compare.md.
"""

from customer_behavior.compare.workflow import CompareResult, check_runs, compare_runs

__all__ = ["CompareResult", "check_runs", "compare_runs"]

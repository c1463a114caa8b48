"""What the terminal shows after a command: the per-stage times, row counts, KPIs, segment
and persona sizes, and where the outputs are."""

from __future__ import annotations

from pathlib import Path

from customer_behavior import TOOL_NAME


def say(message: str) -> None:
    print(message, flush=True)


def print_summary(manifest: dict, path: Path) -> None:
    rows = manifest.get("rows", {})
    say("")
    say(f"{'stage':<12}{'seconds':>10}")
    for stage in manifest.get("stages", []):
        say(f"{stage['name']:<12}{stage['seconds']:>10.1f}" + ("  skipped" if stage.get("status") == "skipped" else ""))
    say(f"{'total':<12}{manifest.get('total_seconds', 0):>10.1f}")
    if rows:
        say("")
        width = max([28] + [len(key) + 2 for key in rows])
        for key, value in rows.items():
            if isinstance(value, int):
                say(f"{key:<{width}}{value:>14,}")
    for line in manifest.get("summary_lines", []):
        say(line)
    from customer_behavior.tracking import degradation_notes

    for note in degradation_notes(manifest.get("stages", [])):
        if note not in manifest.get("summary_lines", []):
            say(note)
    for line in _results_summary(manifest, path):
        say(line)
    say("")
    say(f"Output: {path}")


def _results_summary(manifest: dict, path: Path) -> list[str]:
    """KPIs, segment and persona sizes and where the report is, when the run produced them."""
    from customer_behavior.insights.formatting import kpi_labels  # the insights package imports PySpark: not at the CLI's import

    results = manifest.get("results", {})
    insights_cfg = manifest.get("config", {}).get("insights", {})
    active_days, top_share = insights_cfg.get("active_days", 90), insights_cfg.get("top_share", 0.2)
    lines: list[str] = []
    kpis = results.get("kpis") or {}
    if kpis:
        lines += ["", "KPIs"]
        for label, key, kind in ((label.lower(), key, kind) for label, key, kind in kpi_labels(active_days, top_share)):
            value = kpis.get(key)
            if value is None:
                continue
            text = {"money": f"{value:,.0f}", "money2": f"{value:,.2f}", "int": f"{int(value):,}", "pct": f"{100 * value:.1f}%"}[kind]
            lines.append(f"  {label:<30}{text:>14}")
    for key, title in (("segments_summary", "segments"), ("personas_summary", "personas")):
        rows = results.get(key) or []
        if rows:
            lines += ["", f"{title:<32}{'customers':>12}{'% revenue':>11}"]
            lines += [f"  {str(name)[:30]:<30}{count:>12,}{100 * (share or 0):>10.1f}%" for name, count, share in rows]
    report = results.get("report") or {}
    if report.get("html"):
        lines += ["", f"Report: {path / report['html']}"]
    return lines


def print_dates_summary(manifest: dict, path: Path) -> None:
    """One line per as-of date of `run --as-of D1,D2,...`, then where the runs are."""
    say("")
    say(f"{'as of':<12}{'seconds':>10}{'customers':>12}{'revenue':>16}{'repeat rate':>13}")
    for run in manifest.get("runs", []):
        kpis = run.get("kpis") or {}
        customers, revenue, repeat = kpis.get("customers"), kpis.get("revenue"), kpis.get("repeat_rate")
        say(
            f"{run['as_of']:<12}{run['total_seconds']:>10.1f}{customers if customers is not None else '':>12,}"
            f"{revenue if revenue is not None else 0:>16,.0f}{100 * (repeat or 0):>12.1f}%"
        )
    say("")
    say(f"Output: {path} (one run per date: {', '.join(str(path / run['path']) for run in manifest.get('runs', [])[:2])}, ...)")
    dates = manifest.get("as_of_dates", [])
    if len(dates) >= 2:
        say(f"Compare two dates: {TOOL_NAME} compare {path / dates[-2]} {path / dates[-1]} --output {path / 'compare'}")


def kpi_value(value: float | None) -> str:
    """A share (below 10) with four decimals, money and counts whole."""
    return "n/a" if value is None else f"{value:,.4f}" if abs(value) < 10 else f"{value:,.0f}"

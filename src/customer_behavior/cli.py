"""The command line: parse, load the config, call the pipeline. Nothing else lives here."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from customer_behavior import TOOL_NAME, __version__
from customer_behavior.errors import ConfigError, CustomerBehaviorError

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage problem in one line (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must not be negative")
    return value


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not key=value")
    return key.strip(), value


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file (see init-config)")
    parser.add_argument("--master", help="Spark master, e.g. local[4], spark://host:7077, yarn (default: local mode on every core)")
    parser.add_argument("--remote", metavar="sc://HOST:PORT", help="run on a Spark Connect server instead (default: SPARK_REMOTE when set)")
    parser.add_argument("--conf", action="append", type=_key_value, default=[], metavar="KEY=VALUE", help="extra Spark setting (repeatable)")
    parser.add_argument("--driver-memory", help='driver heap, e.g. "8g" (default: auto)')
    parser.add_argument("--ui", action="store_true", default=None, help="start the Spark UI (on 127.0.0.1 in local mode) and print its address")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and Spark's log")


def _add_generate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=_positive_int, help="number of synthetic customers (default 100,000)")
    parser.add_argument("--seed", type=_non_negative_int, help="random seed (default 42)")
    parser.add_argument("--target-transactions", type=_non_negative_int, help="scale purchase rates to about this many transactions")


def _fraction(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (e.g. 0.05 or 5%)") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} must be between 0 and 1 (or 0% and 100%)")
    return value


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("your own data (instead of generated data)")
    group.add_argument("--input", metavar="PATH", help="transaction log: a file or directory of CSV (.gz too), Parquet or JSON lines")
    group.add_argument("--input-table", metavar="NAME", help="or a table of the session's catalog: db.table or catalog.db.table")
    group.add_argument("--mapping", metavar="FILE", help="TOML mapping of your columns (see init-mapping)")
    group.add_argument("--preset", help='built-in mapping: "uci" (UCI Online Retail)')
    group.add_argument("--format", dest="input_format", choices=("auto", "csv", "parquet", "json"), help="input format (default: by extension)")
    group.add_argument("--delimiter", help='CSV delimiter: ",", ";", "\\t", "|", "whitespace" (default: guessed)')
    group.add_argument("--timestamp-format", metavar="PATTERN", help='event time pattern, e.g. "dd/MM/yyyy HH:mm" (default ISO 8601)')
    group.add_argument("--timezone", metavar="ZONE", help='zone of event times without an offset, e.g. "Europe/Berlin" (default UTC)')
    group.add_argument("--currency-symbols", metavar="SYMBOLS", help='currency symbols removed from amounts, comma-separated, e.g. "$" or "EUR,€"')
    group.add_argument("--thousands-separator", metavar="SEP", help='thousands separator in amounts: ",", ".", "space", "\'" or "none"')
    group.add_argument("--decimal-separator", metavar="SEP", choices=(".", ","), help='decimal separator in amounts: "." (default) or ","')
    group.add_argument("--quarantine-after", metavar="DATE", help="quarantine events on or after this date (input.as_of; default: tomorrow)")
    group.add_argument("--max-bad-fraction", type=_fraction, metavar="F", help="stop when more than this share of rows is rejected (default 0.05)")
    group.add_argument(
        "--duplicates", choices=("auto", "quarantine", "keep"), help="identical lines: quarantine, keep, or auto (quarantine with transaction ids, keep without; the default)"
    )


def _as_of_dates(text: str) -> list[str]:
    """--as-of: one date or a comma-separated list of dates (YYYY-MM-DD), returned sorted."""
    import datetime as dt

    dates = []
    for item in (part.strip() for part in text.split(",")):
        try:
            dates.append(dt.date.fromisoformat(item))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} is not a date (YYYY-MM-DD; several: separated by commas)") from None
    if len(set(dates)) != len(dates):
        raise argparse.ArgumentTypeError(f"{text!r} names a date twice")
    return [d.isoformat() for d in sorted(dates)]


def _add_output(parser: argparse.ArgumentParser, default_help: str) -> None:
    parser.add_argument("--output", "-o", metavar="DIR", help=default_help)
    parser.add_argument("--overwrite", action="store_true", default=None, help="replace a previous run at --output")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=TOOL_NAME, description="E-commerce customer analytics on Spark: RFM segments, personas, CLV, patterns, report.")
    parser.add_argument("--version", action="version", version=f"{TOOL_NAME} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser("run", help="run the whole pipeline (default: on generated synthetic data)")
    _add_common(run)
    _add_generate_options(run)
    _add_input_options(run)
    run.add_argument(
        "--as-of", type=_as_of_dates, metavar="DATE[,DATE...]",
        help="end of the analysis window (features.as_of; exclusive). Several dates: the analysis at each, into <output>/<date>/",
    )
    _add_output(run, "run directory (default out/run)")
    run.add_argument("--output-database", metavar="DB", help="also publish every result table as DB.<table> (db or catalog.db) when the run succeeds")
    run.set_defaults(handler=cmd_run)

    generate = commands.add_parser("generate", help="write a synthetic data set (customers, transactions, truth) as Parquet")
    _add_common(generate)
    _add_generate_options(generate)
    _add_output(generate, "output directory (default out/synthetic)")
    generate.set_defaults(handler=cmd_generate)

    history = commands.add_parser("history", help="start the Spark History Server over a run's event log and print its address")
    history.add_argument("run", metavar="RUN", help="a run directory (its spark-events/ holds the event log)")
    history.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 exposes it)")
    history.add_argument("--port", type=_positive_int, help="port (default 18080, or a free one if that is taken)")
    history.add_argument("--debug", action="store_true")
    history.set_defaults(handler=cmd_history)

    report = commands.add_parser("report", help="rebuild RUN/report (report.html, report.md, insights.json) from a run's tables, without recomputing")
    report.add_argument("run_dir", metavar="RUN", help="a directory that 'customer-behavior run' wrote")
    report.add_argument("--debug", action="store_true", help="show tracebacks")
    report.set_defaults(handler=cmd_report)

    score = commands.add_parser("score", help="assign personas (and RFM segments) to new customers' transactions with a saved model")
    score.add_argument("--model", required=True, metavar="DIR", help="a saved model: RUN/model of a previous run")
    score.add_argument("--input", required=True, metavar="PATH", help="transactions Parquet, or a directory holding transactions/ (and customers/)")
    score.add_argument("--customers", metavar="PATH", help="customers Parquet (default: <input>/customers when present)")
    _add_common(score)
    _add_output(score, "output directory (default out/score)")
    score.set_defaults(handler=cmd_score)

    compare = commands.add_parser("compare", help="what changed between two runs: segment migration, customers slipping away, KPI deltas, drift")
    compare.add_argument("base", metavar="BASE", help="the earlier run directory (e.g. OUT/2024-06-30 of 'run --as-of ...')")
    compare.add_argument("new", metavar="NEW", help="the later run directory")
    compare.add_argument("--config", metavar="FILE", help="TOML configuration file (its [compare] section; see init-config)")
    compare.add_argument("--master", help="Spark master (default: local mode on every core)")
    compare.add_argument("--conf", action="append", type=_key_value, default=[], metavar="KEY=VALUE", help="extra Spark setting (repeatable)")
    compare.add_argument("--driver-memory", help='driver heap, e.g. "8g" (default: auto)')
    compare.add_argument("--debug", action="store_true", help="show tracebacks and Spark's log")
    _add_output(compare, "comparison directory (default out/compare)")
    compare.set_defaults(handler=cmd_compare)

    init_config = commands.add_parser("init-config", help="write a commented default configuration file")
    init_config.add_argument("path", nargs="?", default="customer-behavior.toml")
    init_config.add_argument("--force", action="store_true", help="replace an existing file")
    init_config.add_argument("--debug", action="store_true")
    init_config.set_defaults(handler=cmd_init_config)

    init_mapping = commands.add_parser("init-mapping", help="write a commented input mapping template (for run --input)")
    init_mapping.add_argument("path", nargs="?", default="mapping.toml")
    init_mapping.add_argument("--preset", help='start from a built-in mapping: "uci"')
    init_mapping.add_argument("--force", action="store_true", help="replace an existing file")
    init_mapping.add_argument("--debug", action="store_true")
    init_mapping.set_defaults(handler=cmd_init_mapping)
    return parser


def _overrides(args: argparse.Namespace, *, default_output: str | None = None) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "spark.master": getattr(args, "master", None),
        "spark.remote": getattr(args, "remote", None),
        "spark.driver_memory": getattr(args, "driver_memory", None),
        "spark.ui": getattr(args, "ui", None),
        "generate.customers": getattr(args, "customers", None),
        "generate.seed": getattr(args, "seed", None),
        "generate.target_transactions": getattr(args, "target_transactions", None),
        "output.path": getattr(args, "output", None),
        "output.overwrite": getattr(args, "overwrite", None),
        "input.path": getattr(args, "input", None),
        "input.table": getattr(args, "input_table", None),
        "output.database": getattr(args, "output_database", None),
        "input.mapping": getattr(args, "mapping", None),
        "input.preset": getattr(args, "preset", None),
        "input.format": getattr(args, "input_format", None),
        "input.delimiter": getattr(args, "delimiter", None),
        "input.timestamp_format": getattr(args, "timestamp_format", None),
        "input.timezone": getattr(args, "timezone", None),
        "input.currency_symbols": getattr(args, "currency_symbols", None),
        "input.thousands_separator": getattr(args, "thousands_separator", None),
        "input.decimal_separator": getattr(args, "decimal_separator", None),
        "input.as_of": getattr(args, "quarantine_after", None),
        "input.max_bad_fraction": getattr(args, "max_bad_fraction", None),
        "input.duplicates": getattr(args, "duplicates", None),
    }
    as_of_dates = getattr(args, "as_of", None)
    if as_of_dates and len(as_of_dates) == 1:
        overrides["features.as_of"] = as_of_dates[0]
    if getattr(args, "conf", None):
        overrides["spark.conf"] = dict(args.conf)
    if overrides["output.path"] is None and default_output and not getattr(args, "config", None):
        overrides["output.path"] = default_output
    return overrides


def _load(args: argparse.Namespace, *, default_output: str | None = None):
    from customer_behavior.config import load_config

    cfg = load_config(args.config, _overrides(args, default_output=default_output))
    if default_output and getattr(args, "config", None) and getattr(args, "output", None) is None and cfg.output.path == "out/run":
        from customer_behavior.config import with_overrides

        cfg = with_overrides(cfg, {"output.path": default_output})
    return cfg


def _say(message: str) -> None:
    print(message, flush=True)


def _execute(
    args: argparse.Namespace, *, command: str, stages_name: str = "", default_output: str | None = None, stages: list | None = None
) -> tuple[dict, Path]:
    """Validate everything, start Spark, run the stages into staging, stop, commit."""
    from customer_behavior import pipeline
    from customer_behavior.progress import TerminalProgress
    from customer_behavior.runio import RunDirectory
    from customer_behavior.compat import check_remote, set_log_level, ui_url
    from customer_behavior.session import check_java, get_session, remote_address

    cfg = _load(args, default_output=default_output)
    run_dir = RunDirectory(cfg.output.path, overwrite=cfg.output.overwrite)
    check_java(cfg.spark)
    if remote_address(cfg.spark):
        check_remote(remote_address(cfg.spark))  # a dead address fails here, before anything is written
    staging = run_dir.create()
    spark = None
    owns_session = False
    try:
        from pyspark.sql import SparkSession

        owns_session = SparkSession.getActiveSession() is None
        event_log = str(staging / "spark-events") if cfg.spark.event_log else None
        where = remote_address(cfg.spark) or cfg.spark.master or "local mode"
        _say(f"{TOOL_NAME} {command}: starting Spark ({where})")
        starting = _interrupt_quietly(defer=True)
        spark = get_session(cfg.spark, event_log_dir=event_log)
        _interrupt_quietly()  # again: creating the SparkContext installs PySpark's handler
        if starting.pending:
            raise KeyboardInterrupt
        if args.debug:
            set_log_level(spark, "WARN")
        if cfg.spark.ui and ui_url(spark):
            _say(f"Spark UI: {ui_url(spark)}")
        progress = TerminalProgress(sys.stdout)
        dates = getattr(args, "as_of", None) or []
        if len(dates) > 1:
            manifest = pipeline.execute_dates(spark, cfg, staging, dates, progress=progress)
        else:
            manifest = pipeline.execute(spark, cfg, staging, stages=stages or getattr(pipeline, stages_name), command=command, progress=progress)
        if owns_session:
            spark.stop()  # flushes the event log before the directory moves
            spark = None
        path = run_dir.commit()
        return manifest, path
    except BaseException as exc:
        if spark is None and owns_session and isinstance(exc, KeyboardInterrupt):
            from pyspark.sql import SparkSession

            spark = SparkSession.getActiveSession()  # interrupted while it was being created
        if spark is not None and owns_session:
            try:
                if isinstance(exc, KeyboardInterrupt):
                    spark.sparkContext.setLogLevel("OFF")  # the cancelled tasks' and writers' traces
                spark.stop()
            except Exception:  # noqa: BLE001 - already failing; the first error matters
                pass
        run_dir.abort()
        raise


class _Interrupts:
    pending = False  # a Ctrl-C held back while the JVM was starting


def _interrupt_quietly(*, defer: bool = False) -> _Interrupts:
    """Ctrl-C ends a run with one line: no Python or Java traces.

    PySpark's own SIGINT handler calls into the JVM from inside the call it interrupts (py4j
    then logs the failed call's traceback at ERROR, and the session can no longer be stopped,
    so the JVM's shutdown hook prints its own). This one only raises KeyboardInterrupt, with
    logging silenced; `_execute` then stops Spark with its log switched off, and `main`
    prints the one line. With `defer` (while the JVM starts: interrupted then, it would go on
    starting without us and print its own trace) the first Ctrl-C is only recorded in the
    result, a second one raises at once."""
    import signal
    import threading

    state = _Interrupts()
    if threading.current_thread() is not threading.main_thread():
        return state

    def _interrupted(_signum: int, _frame: object) -> None:
        if defer and not state.pending:
            state.pending = True
            return
        logging.disable(logging.CRITICAL)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _interrupted)
    return state


def _print_summary(manifest: dict, path: Path) -> None:
    rows = manifest.get("rows", {})
    _say("")
    _say(f"{'stage':<12}{'seconds':>10}")
    for stage in manifest.get("stages", []):
        _say(f"{stage['name']:<12}{stage['seconds']:>10.1f}" + ("  skipped" if stage.get("status") == "skipped" else ""))
    _say(f"{'total':<12}{manifest.get('total_seconds', 0):>10.1f}")
    if rows:
        _say("")
        width = max([28] + [len(key) + 2 for key in rows])
        for key, value in rows.items():
            if isinstance(value, int):
                _say(f"{key:<{width}}{value:>14,}")
    for line in manifest.get("summary_lines", []):
        _say(line)
    from customer_behavior.tracking import degradation_notes

    for note in degradation_notes(manifest.get("stages", [])):
        if note not in manifest.get("summary_lines", []):
            _say(note)
    for line in _results_summary(manifest, path):
        _say(line)
    _say("")
    _say(f"Output: {path}")


def _results_summary(manifest: dict, path: Path) -> list[str]:
    """KPIs, segment and persona sizes and where the report is, when the run produced them."""
    results = manifest.get("results", {})
    insights_cfg = manifest.get("config", {}).get("insights", {})
    active_days, top_share = insights_cfg.get("active_days", 90), insights_cfg.get("top_share", 0.2)
    lines: list[str] = []
    kpis = results.get("kpis") or {}
    if kpis:
        lines += ["", "KPIs"]
        for label, key, kind in (
            ("revenue (net)", "revenue", "money"), ("customers", "customers", "int"), ("orders", "orders", "int"), ("average order value", "aov", "money2"),
            ("repeat rate", "repeat_rate", "pct"), (f"active in last {active_days} days", "active_share", "pct"), (f"revenue from top {top_share:.0%}", "top_revenue_share", "pct"),
            ("revenue of at-risk segments", "at_risk_revenue", "money"),
        ):
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


def cmd_run(args: argparse.Namespace) -> int:
    if args.as_of and args.input:
        _say("note: --as-of now sets the end of the analysis window (features.as_of); the quarantine cutoff for late events is --quarantine-after")
    manifest, path = _execute(args, command="run", stages_name="RUN_STAGES")
    if manifest.get("kind") == "as_of_dates":
        _print_dates_summary(manifest, path)
    else:
        _print_summary(manifest, path)
    return 0


def _print_dates_summary(manifest: dict, path: Path) -> None:
    """One line per as-of date of `run --as-of D1,D2,...`, then where the runs are."""
    _say("")
    _say(f"{'as of':<12}{'seconds':>10}{'customers':>12}{'revenue':>16}{'repeat rate':>13}")
    for run in manifest.get("runs", []):
        kpis = run.get("kpis") or {}
        customers, revenue, repeat = kpis.get("customers"), kpis.get("revenue"), kpis.get("repeat_rate")
        _say(
            f"{run['as_of']:<12}{run['total_seconds']:>10.1f}{customers if customers is not None else '':>12,}"
            f"{revenue if revenue is not None else 0:>16,.0f}{100 * (repeat or 0):>12.1f}%"
        )
    _say("")
    _say(f"Output: {path} (one run per date: {', '.join(str(path / run['path']) for run in manifest.get('runs', [])[:2])}, ...)")
    dates = manifest.get("as_of_dates", [])
    if len(dates) >= 2:
        _say(f"Compare two dates: {TOOL_NAME} compare {path / dates[-2]} {path / dates[-1]} --output {path / 'compare'}")


def cmd_generate(args: argparse.Namespace) -> int:
    manifest, path = _execute(args, command="generate", stages_name="GENERATE_STAGES", default_output="out/synthetic")
    _print_summary(manifest, path)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """Serve the run's event log until Ctrl-C (or SIGTERM), then stop the server."""
    import signal

    from customer_behavior.history import start_history_server

    def _terminate(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    server = start_history_server(args.run, host=args.host, port=args.port)
    try:
        apps = server.wait_ready()
        names = ", ".join(app.get("id", "?") for app in apps)
        _say(f"Spark History Server: {server.url} (application {names}); press Ctrl-C to stop")
        server.process.wait()
        raise CustomerBehaviorError(f"the Spark History Server stopped unexpectedly (code {server.process.returncode}); see {server.log_file}")
    except KeyboardInterrupt:
        _say("Spark History Server stopped")
        return 0
    finally:
        server.stop()
def cmd_report(args: argparse.Namespace) -> int:
    from customer_behavior.report import rebuild

    paths = rebuild(args.run_dir)
    _say(f"Report: {paths['html']}")
    _say(f"        {paths['markdown']}")
    _say(f"        {paths['insights']}")
    return 0


def _score_inputs(args: argparse.Namespace) -> tuple[str, str | None]:
    """(transactions path, customers path or None) from --input / --customers."""
    from customer_behavior.errors import InputError

    source = Path(args.input)
    if "://" not in args.input and not source.exists():
        raise InputError(f"--input {args.input!r} does not exist")
    transactions = source / "transactions"
    if transactions.is_dir():
        customers = args.customers or (str(source / "customers") if (source / "customers").is_dir() else None)
        return str(transactions), customers
    return args.input, args.customers


def cmd_score(args: argparse.Namespace) -> int:
    from customer_behavior import pipeline
    from customer_behavior.personas.model import read_metadata

    read_metadata(args.model)  # a wrong --model fails here, before Spark starts
    transactions, customers = _score_inputs(args)
    stages = [pipeline.make_score_stage(args.model, transactions, customers)]
    manifest, path = _execute(args, command="score", stages=stages, default_output="out/score")
    _print_summary(manifest, path)
    return 0


def _kpi_value(value: float | None) -> str:
    """A share (below 10) with four decimals, money and counts whole."""
    return "n/a" if value is None else f"{value:,.4f}" if abs(value) < 10 else f"{value:,.0f}"


def cmd_compare(args: argparse.Namespace) -> int:
    """Check both runs and the output before Spark starts, compare, print what changed."""
    from customer_behavior.compare import check_runs, compare_runs
    from customer_behavior.session import check_java, get_session

    from customer_behavior.runio import RunDirectory

    cfg = _load(args, default_output="out/compare")
    check_runs(args.base, args.new)
    RunDirectory(cfg.output.path, overwrite=cfg.output.overwrite)  # an output that cannot be written fails here, before Spark starts
    check_java()
    _say(f"{TOOL_NAME} compare: starting Spark ({cfg.spark.master or 'local mode'})")
    from pyspark.sql import SparkSession

    owns_session = SparkSession.getActiveSession() is None
    spark = get_session(cfg.spark)
    try:
        result = compare_runs(spark, args.base, args.new, cfg.output.path, overwrite=cfg.output.overwrite, cfg=cfg.compare, progress=_say)
    finally:
        if owns_session:
            spark.stop()
    manifest = result.manifest
    for note in manifest["not_comparable"]:
        _say(f"not comparable: {note}")
    _say("")
    for row in manifest["results"]["kpis"]:
        pct = f" ({100 * row['pct_change']:+.1f}%)" if row["pct_change"] is not None else ""
        _say(f"  {row['kpi']:<14}{_kpi_value(row['base']):>16} -> {_kpi_value(row['new']):>16}  {row['direction']}{pct}")
    migration = manifest["results"].get("migration", {})
    if migration.get("status") == "ok":
        _say(f"  customers in both runs {migration['common_customers']:,}; changed segment {migration['changed_segment']:,}; new {migration['new_customers']:,}; gone {migration['gone_customers']:,}")
    slipping = manifest["results"].get("slipping")
    if slipping:
        _say(f"  slipping valuable customers {slipping['customers']:,}, value at stake {slipping['value_at_stake']:,.0f} -> {result.path / slipping['export']}")
    personas = manifest["results"].get("personas", {})
    if personas.get("status") == "ok":
        _say(f"  persona agreement (BASE's model vs NEW's personas): adjusted Rand index {personas['adjusted_rand_index']:.3f}")
    _say("")
    _say(f"Comparison: {result.html}")
    return 0


def cmd_init_config(args: argparse.Namespace) -> int:
    from customer_behavior.config import default_config_toml

    target = Path(args.path)
    if target.exists() and not args.force:
        raise ConfigError(f"{str(target)!r} already exists; pass --force to replace it")
    try:
        target.write_text(default_config_toml(), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None
    _say(f"Wrote {target}")
    return 0


def cmd_init_mapping(args: argparse.Namespace) -> int:
    from customer_behavior.ingest.mapping import mapping_template

    target = Path(args.path)
    if target.exists() and not args.force:
        raise ConfigError(f"{str(target)!r} already exists; pass --force to replace it")
    text = mapping_template(args.preset or "")
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None
    _say(f"Wrote {target}; use it with: {TOOL_NAME} run --input PATH --mapping {target}")
    return 0


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0]
    return first[:500]


SPARK_COMMANDS = ("run", "generate", "score")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    debug = bool(getattr(args, "debug", False))
    logging.basicConfig(level=logging.INFO if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        if args.command in SPARK_COMMANDS:
            from customer_behavior.compat import require_pyspark

            require_pyspark()
        return handler(args)
    except CustomerBehaviorError as exc:
        if debug:
            traceback.print_exc()
        print(f"{TOOL_NAME}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{TOOL_NAME}: interrupted; no output was left behind", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - Spark/JVM failures become one line unless --debug
        if debug:
            traceback.print_exc()
        name = type(exc).__name__
        print(f"{TOOL_NAME}: error: {name}: {_one_line(exc)} (run with --debug for the full trace)", file=sys.stderr)
        return 1

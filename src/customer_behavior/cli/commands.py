"""The commands: each validates what it can before Spark starts, runs, and prints its summary.

`run`, `generate` and `score` share `_execute`, which drives `pipeline.runner` (the same
lifecycle `api.run` uses) inside a Spark session that it starts and stops.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from customer_behavior import TOOL_NAME
from customer_behavior.cli.summary import kpi_value, print_dates_summary, print_summary, say
from customer_behavior.errors import ConfigError, CustomerBehaviorError

if TYPE_CHECKING:
    from types import ModuleType

    from customer_behavior.pipeline import Stage


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


def _execute(args: argparse.Namespace, *, command: str, stages: list[Stage], default_output: str | None = None) -> tuple[dict, Path]:
    """Validate everything, start Spark, run the stages into staging, stop, commit."""
    from customer_behavior.compat import check_remote, set_log_level, ui_url
    from customer_behavior.pipeline import runner
    from customer_behavior.progress import TerminalProgress
    from customer_behavior.runio import RunDirectory
    from customer_behavior.session import check_java, get_session, remote_address

    cfg = _load(args, default_output=default_output)
    run_dir = RunDirectory(cfg.output.path, overwrite=cfg.output.overwrite)
    check_java(cfg.spark)
    if remote_address(cfg.spark):
        check_remote(remote_address(cfg.spark))  # a dead address fails here, before anything is written

    def in_session(staging: Path) -> dict:
        """The stages in a session this command starts (unless one is active) and stops before the commit."""
        from pyspark.sql import SparkSession

        spark = None
        owns_session = SparkSession.getActiveSession() is None
        try:
            event_log = str(staging / "spark-events") if cfg.spark.event_log else None
            where = remote_address(cfg.spark) or cfg.spark.master or "local mode"
            say(f"{TOOL_NAME} {command}: starting Spark ({where})")
            starting = _interrupt_quietly(defer=True)
            spark = get_session(cfg.spark, event_log_dir=event_log)
            _interrupt_quietly()  # again: creating the SparkContext installs PySpark's handler
            if starting.pending:
                raise KeyboardInterrupt
            if args.debug:
                set_log_level(spark, "WARN")
            if cfg.spark.ui and ui_url(spark):
                say(f"Spark UI: {ui_url(spark)}")
            progress = TerminalProgress(sys.stdout)
            dates = getattr(args, "as_of", None) or []
            manifest = runner.run_stages(spark, cfg, staging, dates=dates, stages=stages, command=command, progress=progress)
            if owns_session:
                spark.stop()  # flushes the event log before the directory moves
                spark = None
            return manifest
        except BaseException as exc:
            if spark is None and owns_session and isinstance(exc, KeyboardInterrupt):
                spark = SparkSession.getActiveSession()  # interrupted while it was being created
            if spark is not None and owns_session:
                try:
                    if isinstance(exc, KeyboardInterrupt):
                        spark.sparkContext.setLogLevel("OFF")  # the cancelled tasks' and writers' traces
                    spark.stop()
                except Exception:  # noqa: BLE001 - already failing; the first error matters
                    pass
            raise

    return runner.in_staging(run_dir, in_session)


def _pipeline() -> ModuleType:
    """The pipeline package, imported when a command needs Spark (and read at call time: a test
    may replace its `RUN_STAGES`)."""
    from customer_behavior import pipeline

    return pipeline


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


def cmd_run(args: argparse.Namespace) -> int:
    if args.as_of and args.input:
        say("note: --as-of now sets the end of the analysis window (features.as_of); the quarantine cutoff for late events is --quarantine-after")
    manifest, path = _execute(args, command="run", stages=_pipeline().RUN_STAGES)
    if manifest.get("kind") == "as_of_dates":
        print_dates_summary(manifest, path)
    else:
        print_summary(manifest, path)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    manifest, path = _execute(args, command="generate", stages=_pipeline().GENERATE_STAGES, default_output="out/synthetic")
    print_summary(manifest, path)
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
        say(f"Spark History Server: {server.url} (application {names}); press Ctrl-C to stop")
        server.process.wait()
        raise CustomerBehaviorError(f"the Spark History Server stopped unexpectedly (code {server.process.returncode}); see {server.log_file}")
    except KeyboardInterrupt:
        say("Spark History Server stopped")
        return 0
    finally:
        server.stop()
def cmd_report(args: argparse.Namespace) -> int:
    from customer_behavior.report import rebuild

    paths = rebuild(args.run_dir)
    say(f"Report: {paths['html']}")
    say(f"        {paths['markdown']}")
    say(f"        {paths['insights']}")
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
    print_summary(manifest, path)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Check both runs and the output before Spark starts, compare, print what changed."""
    from customer_behavior.compare import check_runs, compare_runs
    from customer_behavior.runio import RunDirectory
    from customer_behavior.session import check_java, get_session

    cfg = _load(args, default_output="out/compare")
    check_runs(args.base, args.new)
    RunDirectory(cfg.output.path, overwrite=cfg.output.overwrite)  # an output that cannot be written fails here, before Spark starts
    check_java()
    say(f"{TOOL_NAME} compare: starting Spark ({cfg.spark.master or 'local mode'})")
    from pyspark.sql import SparkSession

    owns_session = SparkSession.getActiveSession() is None
    spark = get_session(cfg.spark)
    try:
        result = compare_runs(spark, args.base, args.new, cfg.output.path, overwrite=cfg.output.overwrite, cfg=cfg.compare, progress=say)
    finally:
        if owns_session:
            spark.stop()
    manifest = result.manifest
    for note in manifest["not_comparable"]:
        say(f"not comparable: {note}")
    say("")
    for row in manifest["results"]["kpis"]:
        pct = f" ({100 * row['pct_change']:+.1f}%)" if row["pct_change"] is not None else ""
        say(f"  {row['kpi']:<14}{kpi_value(row['base']):>16} -> {kpi_value(row['new']):>16}  {row['direction']}{pct}")
    migration = manifest["results"].get("migration", {})
    if migration.get("status") == "ok":
        say(f"  customers in both runs {migration['common_customers']:,}; changed segment {migration['changed_segment']:,}; new {migration['new_customers']:,}; gone {migration['gone_customers']:,}")
    slipping = manifest["results"].get("slipping")
    if slipping:
        say(f"  slipping valuable customers {slipping['customers']:,}, value at stake {slipping['value_at_stake']:,.0f} -> {result.path / slipping['export']}")
    personas = manifest["results"].get("personas", {})
    if personas.get("status") == "ok":
        say(f"  persona agreement (BASE's model vs NEW's personas): adjusted Rand index {personas['adjusted_rand_index']:.3f}")
    say("")
    say(f"Comparison: {result.html}")
    return 0


def _write_new_file(path: str, text: Callable[[], str], *, force: bool) -> Path:
    """`text()` written to `path`, which must not exist unless `force`."""
    target = Path(path)
    if target.exists() and not force:
        raise ConfigError(f"{str(target)!r} already exists; pass --force to replace it")
    content = text()
    try:
        target.write_text(content, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None
    return target


def cmd_init_config(args: argparse.Namespace) -> int:
    from customer_behavior.config import default_config_toml

    target = _write_new_file(args.path, default_config_toml, force=args.force)
    say(f"Wrote {target}")
    return 0


def cmd_init_mapping(args: argparse.Namespace) -> int:
    from customer_behavior.ingest.mapping import mapping_template

    target = _write_new_file(args.path, lambda: mapping_template(args.preset or ""), force=args.force)
    say(f"Wrote {target}; use it with: {TOOL_NAME} run --input PATH --mapping {target}")
    return 0

"""The command line's parser: the commands, their options and the option types."""

from __future__ import annotations

import argparse
from typing import NoReturn

from customer_behavior import TOOL_NAME, __version__
from customer_behavior.cli.commands import cmd_compare, cmd_generate, cmd_history, cmd_init_config, cmd_init_mapping, cmd_report, cmd_run, cmd_score


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage problem in one line (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _whole_number(text: str, *, minimum: int, problem: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{text} {problem}")
    return value


def _positive_int(text: str) -> int:
    return _whole_number(text, minimum=1, problem="must be at least 1")


def _non_negative_int(text: str) -> int:
    return _whole_number(text, minimum=0, problem="must not be negative")


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

"""The command line: parse, load the config, call the pipeline. Nothing else lives here.

`parser` builds the argument parser, `commands` holds one function per command, `summary`
what the terminal shows after a run. `main` is the entry point (`customer-behavior`,
`python -m customer_behavior`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Callable, Sequence

from customer_behavior import TOOL_NAME
from customer_behavior.cli.commands import _overrides
from customer_behavior.cli.parser import build_parser
from customer_behavior.cli.summary import _results_summary
from customer_behavior.errors import CustomerBehaviorError

__all__ = ["_overrides", "_results_summary", "build_parser", "main"]


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

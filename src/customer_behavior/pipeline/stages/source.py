"""The source stage: the transactions (and customers) of a run, generated or ingested.

`stage_generate` writes a synthetic data set into data/; `stage_ingest` reads the user's data,
validates it and writes the accepted rows to data/, the rest to quarantine/ (the write protocol
is `customer_behavior.ingest.write`); `stage_source` picks one. `stage_generate_only` is the
`customer-behavior generate` command's one stage.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame

from customer_behavior import columns as C
from customer_behavior.errors import InputError
from customer_behavior.generate import engine as generate_engine
from customer_behavior.pipeline.context import DATA_DIR, RunContext, write_parquet

# Where `stage_ingest` writes the table holding both outputs before splitting it (in the run).
_SPLIT_DIR = ".ingest-split"


def write_synthetic(ctx: RunContext, base: str) -> dict[str, int]:
    """Generate and write customers, transactions and truth; return their row counts."""
    data = generate_engine.generate(ctx.spark, ctx.cfg.generate)
    counts = {}
    for name, df in (("customers", data.customers_df), ("transactions", data.transactions_df), ("truth", data.truth_df)):
        target = ctx.path(base, name) if base else ctx.path(name)
        write_parquet(df, target)
        counts[name] = ctx.spark.read.parquet(target).count()
    return counts



def stage_generate(ctx: RunContext) -> None:
    with ctx.tracker.stage("generate", f"Generate {ctx.cfg.generate.customers:,} synthetic customers (seed {ctx.cfg.generate.seed})"):
        counts = write_synthetic(ctx, DATA_DIR)
        ctx.rows.update({f"{name}_generated": n for name, n in counts.items()})
        ctx.rows["transactions_read"] = counts["transactions"]
        ctx.rows["transactions_accepted"] = counts["transactions"]
        ctx.rows["transactions_quarantined"] = 0
        ctx.results["rate_scale"] = generate_engine.effective_rate_scale(ctx.cfg.generate)
        ctx.tables["transactions"] = ctx.spark.read.parquet(ctx.path(DATA_DIR, "transactions"))
        ctx.tables["customers"] = ctx.spark.read.parquet(ctx.path(DATA_DIR, "customers"))


def stage_ingest(ctx: RunContext) -> None:
    """The user's data (`input.path` or `input.table`): read, map, validate; accepted rows to data/, the rest to quarantine/.

    One parse of the input (see docs/performance.md, "Ingest"). For transactions, a first job
    reads the rows without parsing them (a delimited file's lines) and finds the sets of exact
    copies by two hashes per row. A second job parses and checks every row, marks the extra
    copies and writes accepted and rejected rows in one Parquet write, partitioned by whether
    a row is rejected: the accepted rows' files are moved into data/ as they are, and the small
    rejected part becomes the quarantine. The row accounting: the accepted rows from the
    Parquet footers, the rejected ones per reason counted while the quarantine is written.
    """
    from customer_behavior.ingest import plan as ingest
    from customer_behavior.ingest import validation as V
    from customer_behavior.ingest.readers import input_errors
    from customer_behavior.ingest.write import final_rows, parquet_rows, write_both_outputs, write_quarantine

    input_cfg = ctx.cfg.input
    with ctx.tracker.stage("ingest", f"Read and validate {input_cfg.source}") as record:
        plan = ingest.plan_ingest(ctx.spark, input_cfg)
        results: dict[str, Any] = {
            "path": input_cfg.path,
            "table": input_cfg.table or None,
            "format": plan.transactions.raw.format,
            "delimiter": plan.transactions.raw.delimiter,
            "source_columns": list(plan.transactions.raw.source_columns),
            "column_sources": plan.resolved.sources,
            "amount": "quantity x unit_price" if plan.resolved.amount_from_product else "amount column",
            "as_of": plan.rules.as_of.isoformat(),
            "missing_optional": plan.resolved.missing_optional,
        }
        ctx.results["ingest"] = results
        record.notes.extend(f"no {name}: {uses}" for name, uses in plan.resolved.missing_optional.items())
        tables = [("transactions", plan.transactions, V.canonical_transaction_columns(plan.resolved), C.TRANSACTIONS_SCHEMA, ingest.R.TRANSACTION_REASONS)]
        if plan.customers is not None:
            tables.append(("customers", plan.customers, V.canonical_customer_columns(), C.CUSTOMERS_SCHEMA, ingest.R.CUSTOMER_REASONS))
        for name, table, canonical, schema, reasons in tables:
            split_dir = Path(ctx.path(_SPLIT_DIR, name))
            source_columns = table.raw.source_columns
            with input_errors(table.raw.path, "input" if name == "transactions" else "customers input"):
                final = final_rows(table, plan)
                try:
                    kept_copies = write_both_outputs(final, split_dir, canonical=canonical, schema=schema, source_columns=source_columns)
                finally:
                    for cached_df in final.cached:
                        cached_df.unpersist()
                accepted_dir = split_dir / f"{V.QUARANTINED}=false"
                quarantine_target = ctx.path(ingest.QUARANTINE_DIR, name)
                counts = write_quarantine(ctx.spark, split_dir / f"{V.QUARANTINED}=true", quarantine_target, schema=schema, source_columns=source_columns, reasons=reasons)
                counts[None] = parquet_rows(ctx.spark, accepted_dir)
            if name == "transactions":
                results["copy_sets"] = final.copy_sets
                results["duplicates"] = {"policy": input_cfg.duplicates, "identical_lines": "kept" if plan.duplicates.keep_copies else "quarantined"}
                results["identical_lines_kept"] = kept_copies
                ctx.rows["transactions_identical_lines_kept"] = kept_copies
                if kept_copies:
                    record.notes.append(f"{kept_copies:,} identical lines kept as repeated purchases (no transaction ids to tell them from a double export; --duplicates quarantine drops them)")
            acc = ingest.accounting(counts, reasons)
            if acc["read"] == 0:
                raise InputError(f"input {table.raw.path!r} has no data rows (a header only?)")
            ctx.rows.update({f"{name}_read": acc["read"], f"{name}_accepted": acc["accepted"], f"{name}_quarantined": acc["quarantined"]})
            ctx.rows.update({f"{name}_quarantined_{reason}": n for reason, n in acc["by_reason"].items() if n})
            results[f"{name}_rows"] = acc
            if name == "transactions" and acc["quarantined"] > input_cfg.max_bad_fraction * acc["read"]:
                kept_at = ingest.move_quarantine_out(ctx.root)
                raise InputError(ingest.too_many_bad_rows_message(table.raw.path, acc, input_cfg.max_bad_fraction, kept_at))
            if acc["accepted"] == 0:
                raise InputError(f"input {table.raw.path!r}: none of the {acc['read']:,} rows passed validation")
            # the accepted rows' files hold exactly the canonical columns: they are the table
            Path(ctx.path(DATA_DIR)).mkdir(parents=True, exist_ok=True)
            accepted_dir.rename(ctx.path(DATA_DIR, name))
            shutil.rmtree(split_dir)
            ctx.tables[name] = ctx.spark.read.parquet(ctx.path(DATA_DIR, name))
            if name == "transactions" and _has_no_purchase(ctx.tables[name]):
                raise InputError(
                    f"input {table.raw.path!r}: none of the {acc['accepted']:,} accepted rows is a purchase (all are returns or cancellations); there is nothing to analyse"
                )
        shutil.rmtree(ctx.path(_SPLIT_DIR), ignore_errors=True)


def _has_no_purchase(transactions_df: DataFrame) -> bool:
    """Whether no row is a completed purchase: the one case that stops a run on valid rows
    (every later stage degrades instead). Stops reading at the first purchase."""
    from customer_behavior.definitions import is_purchase

    return not transactions_df.filter(is_purchase()).limit(1).collect()


def stage_source(ctx: RunContext) -> None:
    """Where the transactions come from: the user's input when given, else the generator."""
    (stage_ingest if ctx.cfg.input.source else stage_generate)(ctx)


def stage_generate_only(ctx: RunContext) -> None:
    """`customer-behavior generate`: the three tables at the top of the output directory."""
    with ctx.tracker.stage("generate", f"Generate {ctx.cfg.generate.customers:,} synthetic customers (seed {ctx.cfg.generate.seed})"):
        counts = write_synthetic(ctx, "")
        ctx.rows.update(counts)
        ctx.results["rate_scale"] = generate_engine.effective_rate_scale(ctx.cfg.generate)

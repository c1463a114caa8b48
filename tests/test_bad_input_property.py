"""Property-style check of issue #21: randomly (seeded) corrupted copies of a valid export —
fields dropped, quotes unbalanced, bytes flipped, lines duplicated. In every copy each line
read is accepted or quarantined (read = accepted + quarantined = the data lines), and every
accepted row holds exactly what an independent parser (Python's csv) reads from its line."""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections import Counter

import pytest

from customer_behavior import columns as C
from customer_behavior.ingest.validation import accepted_transactions
from tests.test_ingest import ingest_rows, write

HEADER = ["transaction_id", "customer_id", "event_ts", "amount", "category"]
CATEGORIES = ["books", '"Books, Comics"', "garden", '"say ""hi"""', "Café"]
FLIP_TO = list('",;x0 9.-\t') + ["\\"]


def _valid_lines(n: int = 40) -> list[str]:
    return [f"T{i},C{i % 7},2024-03-{1 + i % 28:02d} {i % 24:02d}:00:00,{(i * 37) % 500 / 4:.2f},{CATEGORIES[i % len(CATEGORIES)]}" for i in range(n)]


def _corrupt(lines: list[str], rng: random.Random, edits: int) -> list[str]:
    lines = list(lines)
    for _ in range(edits):
        i = rng.randrange(len(lines))
        kind = rng.choice(["drop_field", "unbalance_quote", "flip_byte", "duplicate"])
        line = lines[i]
        if kind == "drop_field":
            fields = line.split(",")
            del fields[rng.randrange(len(fields))]
            lines[i] = ",".join(fields)
        elif kind == "unbalance_quote":
            at = rng.randrange(len(line) + 1)
            lines[i] = line[:at] + '"' + line[at:]
        elif kind == "flip_byte":
            at = rng.randrange(len(line))
            lines[i] = line[:at] + rng.choice(FLIP_TO) + line[at + 1 :]
        else:
            lines.insert(rng.randrange(len(lines) + 1), line)
    return lines


def _python_reading(line: str) -> tuple | None:
    """What an accepted row from `line` must hold, by Python's csv; None when it cannot be
    accepted (wrong field count, no customer, no number, no ISO time)."""
    fields = next(csv.reader([line], strict=False))
    if len(fields) != len(HEADER):
        return None
    tid, cid, ts, amount, category = (f.strip() for f in fields)
    try:
        value = float(amount)
        when = dt.datetime.fromisoformat(ts)
    except ValueError:
        return None
    if not cid:
        return None
    return (tid or None, cid, when, value, category or None)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_corrupted_exports_lose_nothing_and_change_no_accepted_row(spark, tmp_path, seed):
    lines = _corrupt(_valid_lines(), random.Random(seed), edits=12)
    path = write(tmp_path / f"corrupt-{seed}.csv", "\n".join([",".join(HEADER), *lines]) + "\n")
    mapping = write(tmp_path / "m.toml", "[source]\nmultiline = false\n")  # one row per line: exact line accounting
    result = ingest_rows(spark, path, mapping=str(mapping))
    acc = result["accounting"]
    data_lines = [line for line in lines if line.strip() and line != ",".join(HEADER)]
    assert acc["read"] == acc["accepted"] + acc["quarantined"] == len(data_lines)
    assert acc["by_reason"]["duplicate_row"] <= len(data_lines) - len(set(data_lines))
    readings = Counter(r for r in map(_python_reading, data_lines) if r is not None)
    validated_df = result["plan"].transactions.validated_df
    accepted = accepted_transactions(validated_df, resolved=result["plan"].resolved).collect()
    assert len(accepted) == acc["accepted"]
    for row in accepted:
        tid = None if row[C.TRANSACTION_ID].startswith("H") and len(row[C.TRANSACTION_ID]) == 25 else row[C.TRANSACTION_ID]
        got = (tid, row[C.CUSTOMER_ID], row[C.EVENT_TS], row[C.AMOUNT], row[C.CATEGORY])
        assert got in readings, f"seed {seed}: accepted {got} is no line's reading"
    assert acc["accepted"] >= 1 and acc["quarantined"] >= 1

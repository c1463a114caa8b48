"""`compare BASE NEW`: on two real runs of one generated log (as of 2024-07-01 and 2024-10-01),
checked against DuckDB over the runs' own tables, against the planted truth, and on bad input."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from compare_support import BASE_DATE, NEW_DATE, comparison, dated_runs
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.cli import main
from customer_behavior.compare import check_runs, compare_runs
from customer_behavior.compare.migration import GONE, NEW_CUSTOMERS
from customer_behavior.errors import InputError

VALUABLE = ("Champions", "Loyal Customers", "Can't Lose Them")
LAPSING = ("At Risk", "Can't Lose Them", "About to Sleep", "Hibernating", "Lost")


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory) -> Path:
    return dated_runs(spark, tmp_path_factory)


@pytest.fixture(scope="module")
def out(spark, tmp_path_factory) -> Path:
    return comparison(spark, tmp_path_factory)


def _table(path: Path) -> str:
    return f"read_parquet('{path}/*.parquet')"


def _sql(query: str) -> duckdb.DuckDBPyConnection:
    return duckdb.connect().execute(query)


def _sql_list(names: tuple[str, ...]) -> str:
    return ", ".join("'" + name.replace("'", "''") + "'" for name in names)


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- run --as-of D1,D2


def test_dated_runs_share_one_data_set_and_end_at_their_as_of(runs):
    outer = _manifest(runs)
    assert outer["kind"] == "as_of_dates" and outer["as_of_dates"] == [BASE_DATE, NEW_DATE]
    base, new = _manifest(runs / BASE_DATE), _manifest(runs / NEW_DATE)
    assert base["results"]["features"]["as_of"] == BASE_DATE and new["results"]["features"]["as_of"] == NEW_DATE
    # the data is generated once: NEW's files are hard links to BASE's
    base_files = sorted((runs / BASE_DATE / "data" / "transactions").glob("*.parquet"))
    assert base_files and all(os.path.samefile(f, runs / NEW_DATE / "data" / "transactions" / f.name) for f in base_files)
    assert [s["name"] for s in new["stages"]][0] == "source"
    assert new["rows"]["transactions_generated"] == base["rows"]["transactions_generated"]
    # events on or after the as-of date are outside the window, for every stage
    after = _sql(f"select count(*) from {_table(runs / BASE_DATE / 'data' / 'transactions')} where cast(event_ts as date) >= date '{BASE_DATE}'").fetchone()[0]
    assert base["rows"]["transactions_after_as_of"] == after > 0
    last = _sql(f"select max(month) from {_table(runs / BASE_DATE / 'tables' / 'patterns' / 'monthly')}").fetchone()[0]
    assert str(last)[:7] == "2024-06"


def test_report_rebuilt_from_a_real_run_shows_its_as_of_date(runs, tmp_path):
    from customer_behavior.report import load_run, rebuild

    run = tmp_path / "run"
    shutil.copytree(runs / BASE_DATE, run)
    assert load_run(run).meta["as_of"] == BASE_DATE
    html = Path(rebuild(run)["html"]).read_text(encoding="utf-8")
    assert f"; as of {BASE_DATE}." in html


# --------------------------------------------------------------------------- the comparison


def test_migration_sums_are_the_two_runs_segment_sizes(runs, out):
    matrix = pd.read_parquet(out / "tables" / "compare" / "migration")
    base_sizes = pd.read_parquet(runs / BASE_DATE / "tables" / "segment_summary").set_index(C.SEGMENT)[C.CUSTOMERS]
    new_sizes = pd.read_parquet(runs / NEW_DATE / "tables" / "segment_summary").set_index(C.SEGMENT)[C.CUSTOMERS]
    rows = matrix[matrix["from_segment"] != NEW_CUSTOMERS].groupby("from_segment")[C.CUSTOMERS].sum()
    cols = matrix[matrix["to_segment"] != GONE].groupby("to_segment")[C.CUSTOMERS].sum()
    assert rows.to_dict() == {name: n for name, n in base_sizes.items() if n > 0}
    assert cols.to_dict() == {name: n for name, n in new_sizes.items() if n > 0}
    # customers who first bought between the two dates come from "new customers"; nobody leaves a cumulative window
    new_count = int(matrix.loc[matrix["from_segment"] == NEW_CUSTOMERS, C.CUSTOMERS].sum())
    assert new_count == new_sizes.sum() - base_sizes.sum() > 0
    assert GONE not in set(matrix["to_segment"])


def test_migration_matches_duckdb(runs, out):
    base_rfm, new_rfm = _table(runs / BASE_DATE / "tables" / "rfm_segments"), _table(runs / NEW_DATE / "tables" / "rfm_segments")
    expected = _sql(f"""
        select coalesce(b.segment, '{NEW_CUSTOMERS}') as from_segment, coalesce(n.segment, '{GONE}') as to_segment,
               count(*) as customers, coalesce(sum(b.monetary), 0) as base_revenue, coalesce(sum(n.monetary), 0) as new_revenue
        from {base_rfm} b full outer join {new_rfm} n on b.customer_id = n.customer_id
        group by 1, 2 order by 1, 2
    """).df()
    got = pd.read_parquet(out / "tables" / "compare" / "migration").sort_values(["from_segment", "to_segment"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["from_segment", "to_segment"]], expected[["from_segment", "to_segment"]])
    assert got[C.CUSTOMERS].tolist() == expected[C.CUSTOMERS].tolist()
    assert got["base_revenue"].to_numpy() == pytest.approx(expected["base_revenue"].astype(float).to_numpy(), rel=1e-9)
    assert got["new_revenue"].to_numpy() == pytest.approx(expected["new_revenue"].astype(float).to_numpy(), rel=1e-9)


def test_kpi_deltas_match_duckdb(runs, out):
    def figures(run: Path) -> dict:
        rfm, clv = _table(run / "tables" / "rfm_segments"), _table(run / "tables" / "clv")
        row = _sql(f"""
            select sum(monetary), count(*), avg(case when orders >= 2 then 1.0 else 0.0 end), avg(case when recency_days <= 90 then 1.0 else 0.0 end),
                   (select sum(clv) from {clv})
            from {rfm}
        """).fetchone()
        return dict(zip(("revenue", "customers", "repeat_rate", "active_share", "clv_total"), (float(v) for v in row)))

    base, new = figures(runs / BASE_DATE), figures(runs / NEW_DATE)
    deltas = pd.read_parquet(out / "tables" / "compare" / "kpi_deltas").set_index("kpi")
    for name in base:
        assert deltas.loc[name, "base"] == pytest.approx(base[name], rel=1e-9)
        assert deltas.loc[name, "new"] == pytest.approx(new[name], rel=1e-9)
        assert deltas.loc[name, "delta"] == pytest.approx(new[name] - base[name], rel=1e-9, abs=1e-9)
        assert deltas.loc[name, "pct_change"] == pytest.approx((new[name] - base[name]) / abs(base[name]), rel=1e-9, abs=1e-12)
        assert deltas.loc[name, "direction"] == ("up" if new[name] > base[name] else "down")
    assert deltas.loc["customers", "delta"] > 0  # a later window holds more customers


def test_slipping_list_matches_duckdb_and_is_ranked_by_value_at_stake(runs, out):
    base_rfm, new_rfm = _table(runs / BASE_DATE / "tables" / "rfm_segments"), _table(runs / NEW_DATE / "tables" / "rfm_segments")
    base_clv = _table(runs / BASE_DATE / "tables" / "clv")
    valuable, lapsing = _sql_list(VALUABLE), _sql_list(LAPSING)
    expected = _sql(f"""
        select b.customer_id, round(c.clv, 2) as value_at_stake
        from {base_rfm} b join {new_rfm} n using (customer_id) left join {base_clv} c using (customer_id)
        where b.segment in ({valuable}) and n.segment in ({lapsing}) and b.segment <> n.segment
        order by value_at_stake desc, customer_id
    """).df()
    assert len(expected) > 20
    with open(out / "exports" / "compare" / "slipping.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r[C.CUSTOMER_ID] for r in rows] == expected[C.CUSTOMER_ID].tolist()
    assert [float(r["value_at_stake"]) for r in rows] == pytest.approx(expected["value_at_stake"].tolist(), abs=0.006)
    manifest = _manifest(out)
    assert manifest["results"]["slipping"]["customers"] == len(expected)
    assert manifest["results"]["slipping"]["value_at_stake"] == pytest.approx(expected["value_at_stake"].sum(), abs=0.01 * len(expected))


def test_planted_dropouts_between_the_dates_are_over_represented_among_slipping(runs, out):
    """Of the customers valuable as of BASE, those whose planted dropout falls between the two
    dates are far more often in the slipping list than the others: the lift is measured here."""
    truth, base_rfm = _table(runs / BASE_DATE / "data" / "truth"), _table(runs / BASE_DATE / "tables" / "rfm_segments")
    slipping = _table(out / "tables" / "compare" / "slipping")
    valuable = _sql_list(VALUABLE)
    precision, base_rate, slipping_n, valuable_n = _sql(f"""
        with valuable as (
            select b.customer_id, t.dropout_date >= date '{BASE_DATE}' and t.dropout_date < date '{NEW_DATE}' as dropped_between,
                   s.customer_id is not null as is_slipping
            from {base_rfm} b join {truth} t using (customer_id) left join {slipping} s using (customer_id)
            where b.segment in ({valuable}))
        select avg(case when dropped_between then 1.0 else 0.0 end) filter (where is_slipping),
               avg(case when dropped_between then 1.0 else 0.0 end), count(*) filter (where is_slipping), count(*)
        from valuable
    """).fetchone()
    lift = float(precision) / float(base_rate)
    print(f"slipping: {slipping_n} of {valuable_n} valuable customers; planted dropout between the dates: {float(precision):.1%} of the slipping list vs {float(base_rate):.1%} of all valuable customers (lift {lift:.2f})")
    assert lift > 2.0


def test_persona_drift_matches_scikit_learn(out):
    from sklearn.metrics import adjusted_rand_score

    scores = pd.read_parquet(out / "tables" / "compare" / "persona_scores")
    new_personas = pd.read_parquet(Path(_manifest(out)["new"]["path"]) / "tables" / "personas")
    both = scores.merge(new_personas[[C.CUSTOMER_ID, C.PERSONA_NAME]], on=C.CUSTOMER_ID, suffixes=("_base_model", "_new"))
    expected = adjusted_rand_score(both[f"{C.PERSONA_NAME}_base_model"], both[f"{C.PERSONA_NAME}_new"])
    personas = _manifest(out)["results"]["personas"]
    assert personas["status"] == "ok" and personas["customers"] == len(both) == len(new_personas)
    assert personas["adjusted_rand_index"] == pytest.approx(expected, abs=1e-4)
    base_personas = pd.read_parquet(Path(_manifest(out)["base"]["path"]) / "tables" / "personas")
    kept = base_personas.merge(scores, on=C.CUSTOMER_ID, suffixes=("_base", "_scored"))
    expected_share = (kept[f"{C.PERSONA_NAME}_base"] == kept[f"{C.PERSONA_NAME}_scored"]).groupby(kept[f"{C.PERSONA_NAME}_base"]).mean()
    retention = pd.read_parquet(out / "tables" / "compare" / "persona_retention").set_index("base_persona")["kept_share"]
    assert retention.to_dict() == pytest.approx(expected_share.to_dict(), abs=1e-12)


def test_clv_parameters_side_by_side_with_standard_errors(runs, out):
    params = pd.read_parquet(out / "tables" / "compare" / "clv_parameters")
    base_fit = _manifest(runs / BASE_DATE)["results"]["clv"]["bgnbd"]
    r = params[params["parameter"] == "r"].iloc[0]
    assert r["base"] == pytest.approx(base_fit["params"]["r"]) and r["base_se"] == pytest.approx(base_fit["standard_errors"]["r"])
    assert r["z"] == pytest.approx((r["new"] - r["base"]) / (r["base_se"] ** 2 + r["new_se"] ** 2) ** 0.5)
    assert set(params["parameter"]) >= {"r", "alpha", "a", "b", "p", "q", "v"}


def test_outputs_and_recommendations(out):
    manifest = _manifest(out)
    assert manifest["command"] == "compare" and manifest["not_comparable"] == []
    html = (out / "compare.html").read_text(encoding="utf-8")
    assert "<script src=" not in html and '"type":"sankey"' in html.replace(" ", "")
    rules = {r["rule"] for r in manifest["results"]["recommendations"]}
    assert "slipping_valuable" in rules
    slipping = next(r for r in manifest["results"]["recommendations"] if r["rule"] == "slipping_valuable")
    assert slipping["customers"] == manifest["results"]["slipping"]["customers"]


def test_slipping_export_is_standard_csv_and_formula_safe(spark, tmp_path):
    from customer_behavior.compare.slipping import SLIPPING_COLUMNS, export_rows
    from customer_behavior.compare.workflow import _write_csv

    values = {name: None for name in SLIPPING_COLUMNS}
    evil = dict(values, customer_id='=HYPERLINK("http://x")', base_segment="Champions", new_segment="At Risk", value_at_stake=10.0)
    plain = dict(values, customer_id='C1, "quoted"', base_segment="Loyal Customers", new_segment="Lost", value_at_stake=5.0)
    schema = ", ".join(f"{n} {'string' if n in ('customer_id', 'base_segment', 'new_segment') else 'double'}" for n in SLIPPING_COLUMNS)
    from customer_behavior.local_data import literal_dataframe

    df = literal_dataframe(spark, [tuple(evil.values()), tuple(plain.values())], schema)
    target = tmp_path / "slipping.csv"
    _write_csv(export_rows(df).coalesce(1), tmp_path / "staging", target)
    text = target.read_text(encoding="utf-8")
    assert '"\'=HYPERLINK(""http://x"")"' in text and '"C1, ""quoted"""' in text
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["customer_id"] for r in rows] == ["'=HYPERLINK(\"http://x\")", 'C1, "quoted"']


# --------------------------------------------------------------------------- bad input


def test_a_directory_that_is_not_a_run_is_one_line(runs, tmp_path):
    (tmp_path / "x.txt").write_text("hi", encoding="utf-8")
    with pytest.raises(InputError, match=r"^BASE '.*' is not a run of customer-behavior \(no manifest.json of ours\); pass a directory"):
        check_runs(tmp_path, runs / NEW_DATE)
    with pytest.raises(InputError, match=r"holds runs at 2 as-of dates \(2024-07-01, 2024-10-01\); pass two of them"):
        check_runs(runs, runs / NEW_DATE)


def test_base_later_than_new_is_one_line(runs):
    with pytest.raises(InputError, match=r"^BASE '.*2024-10-01' is as of 2024-10-01, later than NEW '.*2024-07-01' \(as of 2024-07-01\); pass the earlier run first"):
        check_runs(runs / NEW_DATE, runs / BASE_DATE)


def test_cli_bad_input_is_one_line_and_exit_code_1(runs, tmp_path, capsys):
    code = main(["compare", str(runs / NEW_DATE), str(runs / BASE_DATE), "--output", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "later than NEW" in err and "Traceback" not in err
    assert not (tmp_path / "c").exists()


def _relabelled_run(spark, source: Path, target: Path, *, prefix: str = "", code_segment: tuple[str, str] | None = None, bins: int | None = None) -> Path:
    """A copy of a run whose customer ids get a prefix (a different log) or one RFM code another segment (another segment table)."""
    shutil.copytree(source, target)
    for name in ("tables/rfm_segments", "tables/customer_features", "tables/clv", "tables/personas", "data/transactions", "data/customers"):
        table = target / name
        df = spark.read.parquet(str(source / name)).withColumn(C.CUSTOMER_ID, F.concat(F.lit(prefix), F.col(C.CUSTOMER_ID)))
        if code_segment and name == "tables/rfm_segments":
            code, segment = code_segment
            df = df.withColumn(C.SEGMENT, F.when(F.col(C.RFM_CODE) == code, F.lit(segment)).otherwise(F.col(C.SEGMENT)))
        shutil.rmtree(table)
        df.write.parquet(str(table))
    if bins is not None:
        manifest = _manifest(target)
        manifest["results"]["segments"]["bins"] = bins
        (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return target


def test_runs_of_different_logs_say_no_customer_is_in_common(spark, runs, tmp_path):
    other = _relabelled_run(spark, runs / NEW_DATE, tmp_path / "other-log", prefix="X")
    result = compare_runs(spark, runs / BASE_DATE, other, tmp_path / "c", progress=None)
    notes = result.manifest["not_comparable"]
    assert len(notes) == 1 and notes[0].startswith("BASE and NEW have no customer in common")
    migration = result.manifest["results"]["migration"]
    assert migration["common_customers"] == 0
    base_n = int(pd.read_parquet(runs / BASE_DATE / "tables" / "rfm_segments").shape[0])
    assert migration["gone_customers"] == base_n and result.manifest["results"]["slipping"]["customers"] == 0
    assert notes[0] in (result.path / "compare.html").read_text(encoding="utf-8").replace("&#39;", "'")


def test_different_bins_or_segment_tables_are_not_comparable(spark, runs, tmp_path):
    other_bins = _relabelled_run(spark, runs / NEW_DATE, tmp_path / "bins", bins=4)
    result = compare_runs(spark, runs / BASE_DATE, other_bins, tmp_path / "c1", progress=None)
    assert result.manifest["not_comparable"] == [
        "BASE scores R, F and M in 5 bins and NEW in 4: its segments are not comparable, so segment migration and slipping customers are not computed"
    ]
    assert result.manifest["results"]["migration"] == {"status": "not comparable"} and "slipping" not in result.manifest["results"]
    assert not (result.path / "exports").exists() and len(result.manifest["results"]["kpis"]) == 5

    other_table = _relabelled_run(spark, runs / NEW_DATE, tmp_path / "table", code_segment=("555", "Lost"))
    result = compare_runs(spark, runs / BASE_DATE, other_table, tmp_path / "c2", progress=None)
    (note,) = result.manifest["not_comparable"]
    assert note.startswith("BASE and NEW use different segment tables (1 RFM code(s) map to other segments, e.g. 555: 'Champions' in BASE, 'Lost' in NEW)")

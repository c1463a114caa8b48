"""Scores, tie handling, the segment table and the summary, on hand-checkable data."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.config import SegmentsConfig, load_config
from customer_behavior.errors import ConfigError
from customer_behavior.segment_table import (
    ALL_CODES,
    SEGMENT_NAMES,
    five_level,
    load_segment_table,
    parse_segment_table,
    segment_slug,
)
from customer_behavior.segments import (
    CutPoints,
    assign_segments,
    export_rows,
    fit_cut_points,
    five_level_col,
    neutralise_formula,
    segment_summary,
)

TABLE = load_segment_table()


# --------------------------------------------------------------------------- the table


def test_every_code_maps_to_exactly_one_segment_and_every_segment_is_reachable():
    assert len(ALL_CODES) == 125
    for code in ALL_CODES:
        holders = [seg.name for seg in TABLE.segments if code in seg.codes]
        assert len(holders) == 1, f"{code} is in {holders}"
    reached = {TABLE.code_map()[code] for code in ALL_CODES}
    assert reached == set(SEGMENT_NAMES)
    assert len(SEGMENT_NAMES) == 11


def test_table_reads_as_its_rules():
    code_map = TABLE.code_map()
    assert code_map["555"] == code_map["541"] == code_map["531"] == "Champions"
    assert code_map["351"] == code_map["443"] == code_map["431"] == code_map["334"] == "Loyal Customers"
    assert code_map["521"] == "Potential Loyalists"
    assert code_map["515"] == "New Customers"
    assert code_map["411"] == "Promising"
    assert code_map["333"] == "Need Attention"
    assert code_map["325"] == "About to Sleep"
    assert code_map["234"] == code_map["144"] == "At Risk"
    assert code_map["251"] == code_map["145"] == "Can't Lose Them"
    assert code_map["221"] == code_map["114"] == "Hibernating"
    assert code_map["111"] == code_map["123"] == "Lost"


def _table_with(change):
    entries = [{"name": seg.name, "codes": list(seg.codes)} for seg in TABLE.segments]
    change(entries)
    return {"segments": entries}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e[0]["codes"].remove("555"), r"1 code\(s\) not mapped to any segment: 555"),
        (lambda e: e[-1]["codes"].append("555"), r"code 555 is mapped twice \('Champions' and 'Lost'\)"),
        (lambda e: e[0].update(name="Champs"), r"unknown segment name 'Champs'"),
        (lambda e: e[0]["codes"].append("615"), r"'615' in 'Champions' is not a code"),
        (lambda e: (e[0]["codes"].extend(e[4]["codes"]), e[4].update(codes=[])), r"unreachable: Promising"),
    ],
)
def test_bad_table_names_the_problem(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_segment_table(_table_with(change), "t.toml")


def test_bad_table_file_fails_at_config_load(tmp_path):
    path = tmp_path / "table.toml"
    path.write_text('[[segments]]\nname = "Champions"\ncodes = ["555"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^segments.table_file: .*124 code\(s\) not mapped"):
        load_config(overrides={"segments.table_file": str(path)})


def test_slugs():
    assert segment_slug("Can't Lose Them") == "cant_lose_them"
    assert [seg.slug for seg in TABLE.segments][:2] == ["champions", "loyal_customers"]


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"segments.bins": 2}, "segments.bins: 2 must be between 3 and 10"),
        ({"segments.bins": 11}, "segments.bins: 11 must be between 3 and 10"),
        ({"segments.frequency_cuts": "1,3,3,9"}, r"segments.frequency_cuts: cut points must be finite and strictly increasing"),
        ({"segments.monetary_cuts": "9,3,5,10"}, r"segments.monetary_cuts: cut points must be finite and strictly increasing"),
        ({"segments.recency_cuts": "7,30"}, r"segments.recency_cuts: 2 cut points given; 5 bins need 4"),
        ({"features.as_of": "2024-13-01"}, r"features.as_of: '2024-13-01' is not a date"),
    ],
)
def test_bad_config_names_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=overrides)


# --------------------------------------------------------------------------- five levels


def test_five_level_mapping():
    assert [five_level(s, 5) for s in range(1, 6)] == [1, 2, 3, 4, 5]
    assert [five_level(s, 3) for s in range(1, 4)] == [1, 3, 5]
    assert [five_level(s, 4) for s in range(1, 5)] == [1, 2, 4, 5]
    assert [five_level(s, 10) for s in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    for bins in range(3, 11):
        levels = [five_level(s, bins) for s in range(1, bins + 1)]
        assert levels[0] == 1 and levels[-1] == 5 and levels == sorted(levels)


def test_five_level_spark_matches_python(spark):
    pairs = [(bins, score) for bins in range(3, 11) for score in range(1, bins + 1)]
    df = spark.createDataFrame(pairs, ["bins", "score"])
    exprs = [five_level_col(df["score"], bins).alias(f"b{bins}") for bins in range(3, 11)]
    rows = df.select("bins", "score", *exprs).collect()
    assert all(row[f"b{row['bins']}"] == five_level(row["score"], row["bins"]) for row in rows)


# --------------------------------------------------------------------------- scores and ties


# ten customers: six with one order (a tie block over the lower three quintiles)
TIES = [
    # id, recency_days, orders, monetary, avg_order_value
    ("c01", 100, 1, 10.0, 10.0),
    ("c02", 90, 1, 20.0, 20.0),
    ("c03", 80, 1, 30.0, 30.0),
    ("c04", 70, 1, 40.0, 40.0),
    ("c05", 60, 1, 50.0, 50.0),
    ("c06", 50, 1, 60.0, 60.0),
    ("c07", 40, 2, 70.0, 35.0),
    ("c08", 30, 2, 80.0, 40.0),
    ("c09", 20, 3, 90.0, 30.0),
    ("c10", 10, 5, 100.0, 20.0),
]


@pytest.fixture(scope="module")
def ties_df(spark):
    return spark.createDataFrame(TIES, [C.CUSTOMER_ID, C.RECENCY_DAYS, C.ORDERS, C.MONETARY, C.AVG_ORDER_VALUE])


def test_exact_quantile_cut_points_with_ties(ties_df):
    cuts = fit_cut_points(ties_df, SegmentsConfig())
    assert cuts.frequency == (1.0, 1.0, 1.0, 2.0)
    assert cuts.monetary == (20.0, 40.0, 60.0, 80.0)
    assert cuts.recency == (20.0, 40.0, 60.0, 80.0)


def test_scores_with_ties_at_a_bin_edge(ties_df):
    cuts = CutPoints(recency=(20.0, 40.0, 60.0, 80.0), frequency=(1.0, 1.0, 1.0, 2.0), monetary=(20.0, 40.0, 60.0, 80.0))
    rows = assign_segments(ties_df, cuts=cuts, table=TABLE, bins=5).orderBy(C.CUSTOMER_ID).collect()
    # the six one-order customers share F = 1; two orders lie above three cut points -> 4
    assert [r[C.F_SCORE] for r in rows] == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    # a value equal to a cut point belongs to the bin below it (monetary 20 -> 1, 80 -> 4)
    assert [r[C.M_SCORE] for r in rows] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # recency: fewer days is better; 80 days is not below the cut at 80 -> 1
    assert [r[C.R_SCORE] for r in rows] == [1, 1, 1, 2, 2, 3, 3, 4, 4, 5]
    assert [r[C.RFM_CODE] for r in rows] == ["111", "111", "112", "212", "213", "313", "344", "444", "455", "555"]
    assert [r[C.SEGMENT] for r in rows][-1] == "Champions"
    assert rows[0][C.SEGMENT] == "Lost"


def test_user_cut_points_and_other_bins(ties_df):
    cfg = SegmentsConfig(bins=3, recency_cuts=[30.0, 70.0], frequency_cuts=[1.0, 2.0], monetary_cuts=[50.0, 90.0])
    cuts = fit_cut_points(ties_df, cfg)
    assert cuts == CutPoints(recency=(30.0, 70.0), frequency=(1.0, 2.0), monetary=(50.0, 90.0))
    rows = assign_segments(ties_df, cuts=cuts, table=TABLE, bins=3).orderBy(C.CUSTOMER_ID).collect()
    assert [(r[C.R_SCORE], r[C.F_SCORE], r[C.M_SCORE]) for r in rows][5:] == [(2, 1, 2), (2, 2, 2), (2, 2, 2), (3, 3, 2), (3, 3, 3)]
    # three levels map to 1, 3, 5 on the table
    assert [r[C.RFM_CODE] for r in rows][5:] == ["313", "333", "333", "553", "555"]


def test_segment_summary(ties_df):
    cuts = CutPoints(recency=(20.0, 40.0, 60.0, 80.0), frequency=(1.0, 1.0, 1.0, 2.0), monetary=(20.0, 40.0, 60.0, 80.0))
    rfm_df = assign_segments(ties_df, cuts=cuts, table=TABLE, bins=5)
    rows = {r[C.SEGMENT]: r.asDict() for r in segment_summary(rfm_df, table=TABLE).collect()}
    assert list(rows) == list(SEGMENT_NAMES)
    champions = rows["Champions"]  # c10 only: code 555
    assert (champions[C.CUSTOMERS], champions[C.REVENUE], champions[C.MEAN_RECENCY_DAYS]) == (1, 100.0, 10.0)
    assert champions[C.CUSTOMER_SHARE] == pytest.approx(0.1)
    assert champions[C.REVENUE_SHARE] == pytest.approx(100.0 / 550.0)
    assert champions[C.MEAN_ORDER_VALUE_SEGMENT] == pytest.approx(20.0)
    lost = rows["Lost"]  # c01, c02 (111) and c03 (112)
    assert (lost[C.CUSTOMERS], lost[C.REVENUE], lost[C.MEAN_M_SCORE]) == (3, 60.0, pytest.approx(4 / 3))
    assert rows["New Customers"][C.CUSTOMERS] == 0 and rows["New Customers"][C.REVENUE_SHARE] == 0.0
    assert sum(r[C.CUSTOMERS] for r in rows.values()) == 10


# --------------------------------------------------------------------------- exports


def test_formula_injection_is_neutralised(spark):
    values = ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tTAB", "plain", "a=b", None]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    got = [r[0] for r in df.select(neutralise_formula(df["v"])).collect()]
    assert got == ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "'\tTAB", "plain", "a=b", None]


def test_export_rows_slug_and_neutralised_ids(spark):
    row = ("=evil", "Can't Lose Them", "155", 300, 30, 900.0, 30.0, None, "-toys", "web")
    schema = (
        f"{C.CUSTOMER_ID} string, {C.SEGMENT} string, {C.RFM_CODE} string, {C.RECENCY_DAYS} int, {C.ORDERS} int, "
        f"{C.MONETARY} double, {C.AVG_ORDER_VALUE} double, {C.LAST_PURCHASE_DATE} date, {C.FAVOURITE_CATEGORY} string, "
        f"{C.PREFERRED_CHANNEL} string"
    )
    out = export_rows(spark.createDataFrame([row], schema)).collect()[0]
    assert (out[C.CUSTOMER_ID], out[C.FAVOURITE_CATEGORY], out["segment_slug"]) == ("'=evil", "'-toys", "cant_lose_them")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[segments]\nbins = 11\n", "segments.bins: 11 must be between 3 and 10"),
        ("[segments]\nfrequency_cuts = [1, 5, 3, 9]\n", "segments.frequency_cuts: cut points must be finite and strictly increasing"),
        ('[features]\nas_of = "someday"\n', "features.as_of: 'someday' is not a date"),
        ("BAD_TABLE", "code 555 is mapped twice ('Champions' and 'Lost')"),
    ],
)
def test_bad_segment_config_is_one_line_before_spark(capsys, tmp_path, toml, message):
    from customer_behavior.cli import main

    if toml == "BAD_TABLE":
        table = tmp_path / "table.toml"
        text = (Path(__file__).parents[1] / "src/customer_behavior/segment_table.toml").read_text(encoding="utf-8")
        table.write_text(text.replace('codes = [\n    "111"', 'codes = [\n    "555", "111"'), encoding="utf-8")
        toml = f'[segments]\ntable_file = "{table}"\n'
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    code = main(["run", "--config", str(cfg), "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.startswith("customer-behavior: error: ") and message in err
    assert len(err.splitlines()) == 1
    assert "starting Spark" not in err
    assert not (tmp_path / "o").exists()


def test_money_histogram_edges_are_exact_integer_grids(spark):
    from customer_behavior.segments import value_histogram

    df = spark.range(1).select(F.inline(F.array(*[F.struct(F.lit(v).alias(C.MONETARY)) for v in (12345.678, 0.0, -7.5, 99.99, 1000.001)])))
    edges = sorted(r["edge"] for r in value_histogram(df, [C.MONETARY], significant_digits=4).collect())
    # cents rounded up to 4 significant digits: 1234568 -> 1235000; 100001 -> 100100; 9999 stays
    assert edges == [-7.5, 0.0, 99.99, 1001.0, 12350.0]


def test_cut_points_do_not_depend_on_partitioning(synthetic_small):
    from customer_behavior import features

    import datetime as dt

    feats = features.customer_features(synthetic_small["transactions"], as_of=dt.date(2025, 1, 1))
    one = fit_cut_points(feats.repartition(1), SegmentsConfig())
    seven = fit_cut_points(feats.repartition(7, C.MONETARY), SegmentsConfig())
    assert one == seven
    assert one.frequency[0] >= 1.0


def test_a_one_day_log_is_recent_not_lost_and_the_run_says_so(spark):
    # issue #21: every customer bought on the one day of the log -> the same recency; the "min"
    # rule put everyone at R 1 (Lost / At Risk) beside "active in the last 90 days: 100%"
    rows = [(f"c{i}", 1, i % 3 + 1, float(10 * (i + 1))) for i in range(10)]
    df = spark.createDataFrame(rows, f"{C.CUSTOMER_ID} string, {C.RECENCY_DAYS} int, {C.ORDERS} int, {C.MONETARY} double")
    cuts = fit_cut_points(df, SegmentsConfig())
    assert cuts.few_values == ((C.RECENCY_DAYS, 1), (C.ORDERS, 3)) and cuts.flat_scores == ((C.RECENCY_DAYS, 5),)
    assert cuts.notes(5) == [
        "segments: every customer has the same recency_days, so it ranks nobody; everyone gets recency_days score 5 of 5",
        "segments: orders has 3 distinct values for 5 bins; tied customers share a score, so some scores are empty",
    ]
    scored = assign_segments(df, cuts=cuts, table=TABLE, bins=5).collect()
    assert {r[C.R_SCORE] for r in scored} == {5}
    # one order: New Customers (R 5, F 1); 2 and 3 orders: F 3 and 4 -> Champions
    assert {r[C.ORDERS]: r[C.SEGMENT] for r in scored} == {1: "New Customers", 2: "Champions", 3: "Champions"}
    # a spread dimension keeps its quantile scores
    assert sorted(r[C.M_SCORE] for r in scored) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # the same recency long ago (a one-day log analysed a year later) is the bottom score
    old = fit_cut_points(df.withColumn(C.RECENCY_DAYS, F.lit(365)), SegmentsConfig())
    assert old.flat_scores == ((C.RECENCY_DAYS, 1),)

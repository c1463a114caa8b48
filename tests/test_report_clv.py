"""The CLV evaluation charts and the model table of the report, from a hand-made manifest section (no Spark)."""

from __future__ import annotations

from customer_behavior.report import clv_charts

EVALUATION = {
    "calibration_end": "2024-07-01",
    "tracking": [{"day": "2024-01-07", "actual": 3.0, "mbgnbd": 2.5}, {"day": "2024-12-31", "actual": 10.0, "mbgnbd": 9.0}],
    "spend_by_frequency": [{"frequency_cal": "1", "customers": 4, "mean_expected_spend": 50.0, "mean_observed_spend": 55.0}],
    "models": [
        {
            "model": "mbgnbd", "name": "MBG/NBD", "status": "ok", "mae": 0.5, "rmse": 0.9, "total_predicted": 9.0, "total_actual": 10.0,
            "aggregate_error_pct": -10.0, "churn_auc": 0.8,
            "by_frequency": [{"frequency_cal": "0", "customers": 5, "mean_predicted": 0.2, "mean_actual": 0.3}],
            "reliability": [{"decile": 1, "customers": 5, "mean_prob_alive": 0.1, "share_bought_again": 0.2}],
        },
        {"model": "paretonbd", "name": "Pareto/NBD", "status": "failed", "reason": "calibration period: Pareto/NBD did not converge"},
    ],
}


def test_charts_draw_the_fitted_models_and_the_actual():
    tracking = clv_charts.tracking(EVALUATION)
    assert [t.name for t in tracking.data] == ["actual", "MBG/NBD expected"]
    assert list(tracking.data[0].y) == [3.0, 10.0] and list(tracking.data[1].y) == [2.5, 9.0]
    by_frequency = clv_charts.holdout_by_frequency(EVALUATION)
    assert list(by_frequency.data[1].y) == [0.2]
    assert clv_charts.reliability(EVALUATION).data[1].name == "MBG/NBD (AUC 0.800)"
    assert list(clv_charts.spend_by_frequency(EVALUATION).data[1].y) == [50.0]
    assert clv_charts.tracking(None) is None and clv_charts.reliability({"models": []}) is None


def test_model_table_names_the_model_used_and_why_another_failed():
    rows = clv_charts.model_comparison_rows(EVALUATION, {"chosen": "mbgnbd"})
    assert rows[0]["model"] == "MBG/NBD" and rows[0]["used"] == "yes" and rows[0]["mae"] == 0.5
    assert rows[1] == {"model": "Pareto/NBD", "used": "", "note": "calibration period: Pareto/NBD did not converge"}


def test_interval_table_lists_all_customers_segments_and_personas():
    from customer_behavior.report.render import _clv_interval_table

    intervals = {
        "status": "ok",
        "total": [{"group": "all customers", "customers": 3, "expected_purchases": 6.0, "expected_purchases_low": 5.0, "expected_purchases_high": 7.0, "total_clv": 60.0, "total_clv_low": 50.0, "total_clv_high": 70.0}],
        "by_segment": [{"segment": "Champions", "customers": 1, "expected_purchases": 4.0, "total_clv": 40.0}],
        "by_persona": [{"persona_name": "Bargain hunters", "customers": 2, "expected_purchases": 2.0, "total_clv": 20.0}],
    }
    table = _clv_interval_table(intervals)
    assert [row[0][0] for row in table["rows"]] == ["all customers", "segment: Champions", "persona: Bargain hunters"]
    assert table["header"][:4] == ["group", "customers", "expected purchases", "90% low"]
    assert _clv_interval_table({"status": "skipped"}) is None

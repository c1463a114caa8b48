"""Pareto/NBD: the driver-side fit and the Spark scores against lifetimes' ParetoNBDFitter."""

from __future__ import annotations

import numpy as np
import pytest
from lifetimes import ParetoNBDFitter
from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

from customer_behavior import columns as C
from customer_behavior.clv import pareto_score, paretonbd
from customer_behavior.errors import ModelError


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary_data_with_monetary_value().reset_index()


@pytest.fixture(scope="module")
def ours(cdnow):
    return paretonbd.fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def theirs(cdnow, ours):
    """lifetimes' fitter (Nelder-Mead from a random start, hence the seed) and one holding our parameters."""
    np.random.seed(0)
    fitted = ParetoNBDFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    same = ParetoNBDFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    same.params_[:] = [ours.params.r, ours.params.alpha, ours.params.s, ours.params.beta]
    return fitted, same


def test_paretonbd_parameters_equal_lifetimes_on_cdnow(ours, theirs):
    fitted, _ = theirs
    for name in paretonbd.PARAM_NAMES:
        assert getattr(ours.params, name) == pytest.approx(fitted.params_[name], rel=0.01), name
    # the published CDNOW estimates (Fader, Hardie and Lee 2005, in weeks): r 0.55, alpha 10.58, s 0.61, beta 11.67
    assert (round(ours.params.r, 2), round(ours.params.alpha, 2), round(ours.params.s, 2), round(ours.params.beta, 2)) == (0.55, 10.58, 0.61, 11.67)
    assert all(v > 0 for v in ours.standard_errors.to_dict().values())


def test_paretonbd_grouped_fit_equals_ungrouped(cdnow, ours):
    grouped = cdnow.groupby(["frequency", "recency", "T"]).size().reset_index(name="weight")
    assert len(grouped) < len(cdnow)
    compact = paretonbd.fit(grouped["frequency"], grouped["recency"], grouped["T"], grouped["weight"]).params
    for name in paretonbd.PARAM_NAMES:
        assert getattr(compact, name) == pytest.approx(getattr(ours.params, name), rel=1e-5)


def test_paretonbd_driver_predictions_equal_lifetimes(cdnow, ours, theirs):
    _, same = theirs
    x, t_x, T = cdnow["frequency"].to_numpy(float), cdnow["recency"].to_numpy(), cdnow["T"].to_numpy()
    np.testing.assert_allclose(paretonbd.prob_alive(ours.params, x, t_x, T), same.conditional_probability_alive(x, t_x, T), rtol=1e-9)
    np.testing.assert_allclose(
        paretonbd.expected_purchases(ours.params, 39.0, x, t_x, T), same.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T), rtol=1e-9
    )
    t = np.array([1.0, 10.0, 39.0, 78.0])
    np.testing.assert_allclose(paretonbd.unconditional_expected_purchases(ours.params, t), same.expected_number_of_purchases_up_to_time(t), rtol=1e-12)


def test_paretonbd_spark_scores_equal_lifetimes_per_customer(spark, cdnow, ours, theirs):
    """P(alive) and expected purchases in Spark SQL within 1e-6 relative of lifetimes on the same parameters."""
    _, same = theirs
    rows = [(str(i), float(f), float(r), float(t), float(m)) for i, f, r, t, m in cdnow[["customer_id", "frequency", "recency", "T", "monetary_value"]].itertuples(index=False)]
    summary_df = spark.createDataFrame(rows, [C.CUSTOMER_ID, C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T, C.BTYD_MONETARY_VALUE])
    scored = (
        summary_df.transform(pareto_score.with_paretonbd_scores, ours.params, horizon_months=3, monthly_discount_rate=0.0, max_terms=2000)
        .transform(pareto_score.with_expected_purchases_at, ours.params, 39.0, max_terms=2000, name="in_39")
        .toPandas()
        .sort_values(C.CUSTOMER_ID, key=lambda s: s.astype(int))
    )
    x, t_x, T = scored[C.BTYD_FREQUENCY], scored[C.BTYD_RECENCY], scored[C.BTYD_T]
    np.testing.assert_allclose(scored[C.PROB_ALIVE], same.conditional_probability_alive(x, t_x, T), rtol=1e-6)
    np.testing.assert_allclose(scored["in_39"], same.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T), rtol=1e-6)
    # three months of 30 time units, undiscounted: the expectation at 90
    np.testing.assert_allclose(scored[C.EXPECTED_PURCHASES], same.conditional_expected_number_of_purchases_up_to_time(90.0, x, t_x, T), rtol=1e-6)
    np.testing.assert_allclose(scored[C.DISCOUNTED_PURCHASES], scored[C.EXPECTED_PURCHASES], rtol=1e-9)
    # z = (11.67 - 10.58) / 11.67 = 0.093 at recency 0: about 12 terms reach 1e-12; a cap of 5 truncates
    terms, truncated = pareto_score.worst_case_terms(ours.params, 2000)
    assert 10 <= terms <= 14 and not truncated
    assert pareto_score.worst_case_terms(ours.params, 5) == (5, True)


def test_paretonbd_no_repeat_customers_is_a_model_error():
    with pytest.raises(ModelError, match="Pareto/NBD cannot be fitted: no customer has a repeat purchase"):
        paretonbd.fit(np.zeros(5), np.zeros(5), np.arange(1.0, 6.0))

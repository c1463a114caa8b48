"""BG/NBD and Gamma-Gamma fits on the driver: lifetimes parity, parameter recovery, bad input.

No Spark here: these are the numpy likelihoods and the optimiser.
"""

from __future__ import annotations

import numpy as np
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter
from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

from customer_behavior.clv import bgnbd, gamma_gamma
from customer_behavior.config import ClvConfig, config_from_dict
from customer_behavior.errors import ConfigError, ModelError


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary_data_with_monetary_value()


def simulate_bgnbd(n: int, *, r: float, alpha: float, a: float, b: float, seed: int):
    """The BG/NBD story: lambda ~ Gamma(r, alpha), p ~ Beta(a, b); after each repeat purchase the
    customer drops out with probability p (so J ~ Geometric(p) repeat purchases at most);
    repeat purchases are a Poisson(lambda) process over an age T of whole days."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    T = np.floor(rng.uniform(30, 731, n))
    most = rng.geometric(p)
    poisson_count = rng.poisson(lam * T)
    x = np.minimum(poisson_count, most)
    # the x-th of `poisson_count` uniform arrival times on [0, T]
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(poisson_count - x + 1, 1)), 0.0)
    return x.astype(float), t_x, T


@pytest.mark.parametrize("penalizer", [0.0, 0.01])
def test_bgnbd_parameters_equal_lifetimes_on_cdnow(cdnow, penalizer):
    x, t_x, T = cdnow["frequency"].to_numpy(float), cdnow["recency"].to_numpy(), cdnow["T"].to_numpy()
    ours = bgnbd.fit(x, t_x, T, penalizer=penalizer).params
    theirs = BetaGeoFitter(penalizer_coef=penalizer).fit(x, t_x, T).params_
    for name in bgnbd.PARAM_NAMES:
        assert getattr(ours, name) == pytest.approx(theirs[name], rel=0.01), name


def test_bgnbd_grouped_fit_equals_ungrouped(cdnow):
    """Weights over distinct (x, t_x, T) give the same likelihood, hence the same fit."""
    grouped = cdnow.groupby(["frequency", "recency", "T"]).size().reset_index(name="weight")
    assert len(grouped) < len(cdnow)
    full = bgnbd.fit(cdnow["frequency"], cdnow["recency"], cdnow["T"]).params
    compact = bgnbd.fit(grouped["frequency"], grouped["recency"], grouped["T"], grouped["weight"]).params
    for name in bgnbd.PARAM_NAMES:
        assert getattr(compact, name) == pytest.approx(getattr(full, name), rel=1e-5)


@pytest.mark.parametrize("penalizer", [0.0, 0.001])
def test_gamma_gamma_parameters_equal_lifetimes_on_cdnow(cdnow, penalizer):
    repeat = cdnow[cdnow["frequency"] > 0]
    fitted = gamma_gamma.fit(repeat["frequency"], repeat["monetary_value"], penalizer=penalizer)
    theirs = GammaGammaFitter(penalizer_coef=penalizer).fit(repeat["frequency"], repeat["monetary_value"])
    for name in gamma_gamma.PARAM_NAMES:
        assert getattr(fitted.params, name) == pytest.approx(theirs.params_[name], rel=0.01), name
        assert fitted.standard_errors[name] == pytest.approx(theirs.standard_errors_[name], rel=0.02), name
    spend = gamma_gamma.expected_average_spend(fitted.params, repeat["frequency"].to_numpy(), repeat["monetary_value"].to_numpy())
    np.testing.assert_allclose(spend, theirs.conditional_expected_average_profit(repeat["frequency"], repeat["monetary_value"]), rtol=0.01)


def test_bgnbd_driver_predictions_equal_lifetimes(cdnow):
    x, t_x, T = cdnow["frequency"].to_numpy(float), cdnow["recency"].to_numpy(), cdnow["T"].to_numpy()
    fitted = bgnbd.fit(x, t_x, T)
    theirs = BetaGeoFitter().fit(x, t_x, T)
    np.testing.assert_allclose(bgnbd.prob_alive(fitted.params, x, t_x, T), theirs.conditional_probability_alive(x, t_x, T), rtol=0.01)
    for t in (1.0, 10.0, 52.0):
        np.testing.assert_allclose(
            bgnbd.expected_purchases(fitted.params, t, x, t_x, T), theirs.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T), rtol=0.01
        )


def test_mbgnbd_fit_and_predictions_equal_lifetimes_on_cdnow(cdnow):
    x, t_x, T = cdnow["frequency"].to_numpy(float), cdnow["recency"].to_numpy(), cdnow["T"].to_numpy()
    fitted = bgnbd.fit(x, t_x, T, modified=True)
    theirs = ModifiedBetaGeoFitter().fit(x, t_x, T)
    assert fitted.params.model == "MBG/NBD"
    for name in bgnbd.PARAM_NAMES:
        assert getattr(fitted.params, name) == pytest.approx(theirs.params_[name], rel=0.01), name
    alive = bgnbd.prob_alive(fitted.params, x, t_x, T)
    np.testing.assert_allclose(alive, theirs.conditional_probability_alive(x, t_x, T), rtol=0.01)
    assert alive[x == 0].max() < 1.0  # unlike BG/NBD, one-time buyers can be gone
    np.testing.assert_allclose(
        bgnbd.expected_purchases(fitted.params, 26.0, x, t_x, T), theirs.conditional_expected_number_of_purchases_up_to_time(26.0, x, t_x, T), rtol=0.01
    )


def test_bgnbd_recovers_simulated_parameters_within_10_percent():
    true = {"r": 0.8, "alpha": 40.0, "a": 0.6, "b": 2.5}
    x, t_x, T = simulate_bgnbd(50_000, **true, seed=1)
    assert 0.3 < np.mean(x > 0) < 0.9  # both repeat buyers and one-time buyers present
    fitted = bgnbd.fit(x, t_x, T)
    for name, value in true.items():
        assert getattr(fitted.params, name) == pytest.approx(value, rel=0.10), name
        # and the truth lies within 4 standard errors of the estimate
        assert abs(getattr(fitted.params, name) - value) < 4 * getattr(fitted.standard_errors, name), name


def test_bgnbd_no_repeat_customers_is_a_model_error():
    with pytest.raises(ModelError, match=r"BG/NBD cannot be fitted: no customer has a repeat purchase"):
        bgnbd.fit([0, 0, 0], [0, 0, 0], [10, 20, 30])


def test_bgnbd_identical_customers_is_a_model_error():
    with pytest.raises(ModelError, match=r"BG/NBD cannot be fitted: all customers have the same"):
        bgnbd.fit([2, 2, 2], [5, 5, 5], [30, 30, 30])


def test_bgnbd_recency_beyond_age_is_a_model_error():
    with pytest.raises(ModelError, match=r"BG/NBD cannot be fitted: .*recency outside \[0, T\]"):
        bgnbd.fit([1, 2], [40, 5], [30, 30])


def test_bgnbd_without_dropout_evidence_does_not_return_a_bad_fit():
    """Homogeneous Poisson buyers who never drop out: the likelihood has no proper maximum."""
    rng = np.random.default_rng(0)
    T = rng.uniform(100, 700, 3000)
    x = rng.poisson(0.05 * T).astype(float)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1), 0.0)
    with pytest.raises(ModelError, match=r"^BG/NBD: did not converge"):
        bgnbd.fit(x, t_x, T)


def test_gamma_gamma_nonpositive_spend_is_a_model_error():
    with pytest.raises(ModelError, match=r"Gamma-Gamma cannot be fitted: 2 repeat customers have a monetary_value <= 0"):
        gamma_gamma.fit([1, 2, 3], [10.0, 0.0, -5.0])


def test_gamma_gamma_q_at_most_one_is_a_model_error(cdnow):
    """A strong penalty drives q below 1 on CDNOW (lifetimes returns that fit; its mean spend is negative)."""
    repeat = cdnow[cdnow["frequency"] > 0]
    assert GammaGammaFitter(penalizer_coef=0.01).fit(repeat["frequency"], repeat["monetary_value"]).params_["q"] < 1
    with pytest.raises(ModelError, match=r"Gamma-Gamma: fitted q = 0.9\d+ <= 1"):
        gamma_gamma.fit(repeat["frequency"], repeat["monetary_value"], penalizer=0.01)


def test_gamma_gamma_identical_customers_is_a_model_error():
    with pytest.raises(ModelError, match=r"Gamma-Gamma cannot be fitted: all repeat customers have the same"):
        gamma_gamma.fit([2, 2], [10.0, 10.0])


def test_gamma_gamma_no_repeat_customers_is_a_model_error():
    with pytest.raises(ModelError, match=r"Gamma-Gamma cannot be fitted: no repeat customers"):
        gamma_gamma.fit([], [])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"model": "pareto"}, r"^clv\.model: 'pareto' is not a model"),
        ({"horizon_months": 0}, r"^clv\.horizon_months: 0 must be between 1 and 600"),
        ({"monthly_discount_rate": -0.1}, r"^clv\.monthly_discount_rate: -0\.1 must be >= 0 and < 1"),
        ({"penalizer": -1}, r"^clv\.penalizer: -1\.0 must be between 0 and 100"),
        ({"max_summary_rows": 5}, r"^clv\.max_summary_rows: 5 must be between 100"),
        ({"prob_alive_low": 0.8, "prob_alive_high": 0.5}, r"^clv\.prob_alive_low/prob_alive_high: need 0 < low < high < 1"),
        ({"calibration_end": "2024-13-01"}, r"^clv\.calibration_end: '2024-13-01' is not a date"),
        ({"holdout_days": 0}, r"^clv\.holdout_days: 0 must be at least 1"),
        ({"horizon": 12}, r"^unknown config key 'clv\.horizon'; allowed keys in \[clv\]: model, horizon_months"),
        ({"max_summary_rows": "many"}, r"^clv\.max_summary_rows: 'many' is not a whole number"),
    ],
)
def test_clv_config_errors_name_the_key(values, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"clv": values})


def test_clv_config_defaults_and_calibration_date():
    cfg = config_from_dict({"clv": {"calibration_end": "2024-07-01", "model": "mbgnbd"}}).clv
    assert cfg.calibration_end_date.isoformat() == "2024-07-01" and cfg.model == "mbgnbd"
    default = ClvConfig(model="bgnbd")
    assert (default.model, default.horizon_months, default.monthly_discount_rate, default.penalizer) == ("bgnbd", 12, 0.01, 0.0)
    assert default.calibration_end_date is None

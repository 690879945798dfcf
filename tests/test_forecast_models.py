"""The forecast's models on data of known shape: parameter recovery from simulated histories,
the arithmetic of their predictions against values worked out by hand, and the pipeline's own
likelihoods, fits and predictions against pymc-marketing's implementation of the same models
(simulated with it, fitted by it with flat priors, so its MAP is the maximum likelihood).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from pymc_extras.prior import Prior
from pymc_marketing.clv import BetaGeoModel, GammaGammaModel
from pymc_marketing.clv.distributions import BetaGeoNBD, ShiftedBetaGeometric

from pipeline.forecast.likelihood import (
    bg_nbd_log_likelihood,
    gamma_gamma_log_likelihood,
    sbg_log_likelihood,
)
from pipeline.forecast.purchases import PurchaseForecast, fit_purchases, rfm_summary
from pipeline.forecast.retention import Retention, expected_payments, fit_retention
from pipeline.forecast.split_pay import expected_instalments, plan_states
from pipeline.report import charts

CUTOFF = pd.Timestamp("2026-07-01")
TRUE_BG_NBD = {"r": 0.8, "alpha": 10.0, "a": 0.6, "b": 2.5}


def simulated_rfm(customers: int, seed: int) -> pd.DataFrame:
    """Customers observed for six months to two years, drawn by pymc-marketing's BG/NBD
    simulator with TRUE_BG_NBD, each repeat buyer with a mean order value around 50."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(26, 104, customers)
    draws = pm.draw(BetaGeoNBD.dist(**TRUE_BG_NBD, T=age), random_seed=seed + 4)
    frequency = draws[:, 1]
    spend = rng.gamma(shape=4.0, scale=12.5, size=customers)
    return pd.DataFrame(
        {
            "customer_id": np.arange(customers),
            "currency": "USD",
            "frequency": frequency,
            "recency": draws[:, 0],
            "T": age,
            "monetary_value": np.where(frequency > 0, spend, 0.0),
        }
    )


def test_bg_nbd_recovers_the_parameters_it_was_simulated_with() -> None:
    """50,000 customers: enough that sampling error stays well inside the 10% (a and b, the
    dropout shape, are the least determined; they land within 3.4%)."""
    rfm = simulated_rfm(50_000, seed=7)

    fitted = fit_purchases(rfm).parameters()

    errors = {name: abs(fitted[name] / true - 1) for name, true in TRUE_BG_NBD.items()}
    assert max(errors.values()) < 0.10, errors


def test_the_likelihoods_are_pymc_marketings() -> None:
    """BG/NBD per customer as BetaGeoNBD's logp; sBG per subscription as ShiftedBetaGeometric
    right-censored at the payments a running subscription has made (pm.Censored)."""
    rfm = simulated_rfm(200, seed=5)
    x, t_x, big_t = (rfm[k].to_numpy() for k in ("frequency", "recency", "T"))
    theirs = pm.logp(BetaGeoNBD.dist(a=0.7, b=2.0, r=0.9, alpha=8.0, T=big_t), np.c_[t_x, x])
    ours, _ = bg_nbd_log_likelihood(x, t_x, big_t)(0.9, 8.0, 0.7, 2.0)
    assert ours == pytest.approx(theirs.eval(), rel=1e-7)  # PyTensor's gammaln differs by ~4e-9

    paid, ended = SUBSCRIPTIONS
    censored = pm.Censored.dist(
        ShiftedBetaGeometric.dist(1.3, 2.7), lower=None, upper=np.where(ended, paid + 1, paid)
    )
    ours, _ = sbg_log_likelihood(paid, ended)(1.3, 2.7)
    assert ours == pytest.approx(pm.logp(censored, paid).eval(), rel=1e-7)


SUBSCRIPTIONS = (np.array([1, 2, 5, 3, 7, 1]), np.array([True, False, True, False, False, False]))


@pytest.mark.parametrize(
    ("model", "at"),
    [
        ("bg_nbd", (0.9, 8.0, 0.7, 2.0)),
        ("bg_nbd", (0.16, 4.5, 1150.0, 458.0)),  # far along the ridge of a and b
        ("gamma_gamma", (2.1, 3.4, 40.0)),
        ("sbg", (1.3, 2.7)),
    ],
)
def test_every_partial_derivative_matches_finite_differences(
    model: str, at: tuple[float, ...]
) -> None:
    rfm = simulated_rfm(300, seed=6)
    repeaters = rfm[rfm["frequency"] > 0]
    log_likelihood = {
        "bg_nbd": lambda: bg_nbd_log_likelihood(
            *(rfm[k].to_numpy(dtype=float) for k in ("frequency", "recency", "T"))
        ),
        "gamma_gamma": lambda: gamma_gamma_log_likelihood(
            repeaters["frequency"].to_numpy(dtype=float), repeaters["monetary_value"].to_numpy()
        ),
        "sbg": lambda: sbg_log_likelihood(*SUBSCRIPTIONS),
    }[model]()
    _, partials = log_likelihood(*at)
    for i, value in enumerate(at):
        step = value * 1e-6
        up = log_likelihood(*(v + step if j == i else v for j, v in enumerate(at)))[0]
        down = log_likelihood(*(v - step if j == i else v for j, v in enumerate(at)))[0]
        numeric = (up.sum() - down.sum()) / (2 * step)
        assert partials[i].sum() == pytest.approx(numeric, rel=1e-5, abs=1e-6), (model, i)


def test_fits_and_predictions_equal_pymc_marketings() -> None:
    """The same 5,000 customers fitted by BetaGeoModel and GammaGammaModel (flat priors, MAP)
    and by the pipeline: the parameters agree to 1e-4, and with pymc-marketing's parameters the
    pipeline's predictions are its predictions."""
    rfm = simulated_rfm(5_000, seed=9)
    flat = {"method": "map", "progressbar": False}
    purchases = BetaGeoModel(model_config={k: Prior("HalfFlat") for k in ("r", "alpha", "a", "b")})
    purchases.fit(data=rfm[["customer_id", "frequency", "recency", "T"]], **flat)
    repeaters = rfm[rfm["frequency"] > 0][["customer_id", "frequency", "monetary_value"]]
    spend = GammaGammaModel(model_config={k: Prior("HalfFlat") for k in ("p", "q", "v")})
    spend.fit(data=repeaters, **flat)
    theirs = {
        name: float(model.fit_result[name].values.squeeze())
        for model, names in ((purchases, "r alpha a b"), (spend, "p q v"))
        for name in names.split()
    }

    ours = fit_purchases(rfm)

    assert ours.parameters() == pytest.approx(theirs, rel=1e-4)
    same = PurchaseForecast(
        rfm,
        {k: theirs[k] for k in ("r", "alpha", "a", "b")},
        {k: theirs[k] for k in ("p", "q", "v")},
    )
    days = np.linspace(0, 730, len(rfm))
    history = rfm[["customer_id", "frequency", "recency", "T"]]
    expected = purchases.expected_purchases(data=history.assign(future_t=days / 7))
    assert same.expected_purchases(days) == pytest.approx(expected.values.reshape(-1), rel=1e-9)
    alive = purchases.expected_probability_alive(data=history).values.reshape(-1)
    assert same.probability_alive() == pytest.approx(alive, rel=1e-9)
    value = spend.expected_customer_spend(data=rfm[["customer_id", "frequency", "monetary_value"]])
    assert same.expected_order_value() == pytest.approx(value.values.reshape(-1), rel=1e-9)


def test_sbg_recovers_each_plans_retention_from_censored_tenures() -> None:
    """Two plans fitted together, each subscriber watched for 1 to 24 periods."""
    rng = np.random.default_rng(3)
    plans = [(1.0, 8.0), (3.0, 4.0)]
    paid, ended, groups = [], [], []
    for group, (alpha, beta) in enumerate(plans):
        lifetime = pm.draw(ShiftedBetaGeometric.dist(alpha, beta, size=8000), random_seed=group)
        watched = rng.integers(1, 25, 8000)
        paid.append(np.minimum(lifetime, watched))
        ended.append(lifetime <= watched)
        groups.append(np.full(8000, group))

    fits = fit_retention(np.concatenate(paid), np.concatenate(ended), np.concatenate(groups))

    for fit, (alpha, beta) in zip(fits, plans, strict=True):
        assert fit.subscriptions == 8000
        assert fit.alpha == pytest.approx(alpha, rel=0.10)
        assert fit.beta == pytest.approx(beta, rel=0.10)


def test_expected_payments_follow_sbg_retention_rates() -> None:
    """α = 1, β = 3, two payments made: payment t + 1 follows payment t with probability
    (β + t − 1) / (α + β + t − 1) (Fader & Hardie 2007, eq. 8): payment 3 with 4/5, payment 4
    with 4/5 × 5/6, payment 5 with 4/5 × 5/6 × 6/7."""
    running = pd.DataFrame(
        {
            "frequency": ["month", "month", "year"],
            "payments": [2, 2, 2],
            "last_payment_at": [CUTOFF - pd.Timedelta(days=10)] * 3,
            "retention": [Retention(1.0, 3.0, 100)] * 3,
        }
    )
    # Due 20.4, 50.9 and 81.3 days after the cutoff; the yearly one in 355 days.
    days = np.array([85.0, 40.0, 300.0])

    got = expected_payments(running, CUTOFF, days)

    assert got == pytest.approx([4 / 5 + 4 / 6 + 4 / 7, 4 / 5, 0.0])


def test_split_pay_plans_owe_their_remaining_instalments_times_the_completion_rate() -> None:
    """A 3-instalment schedule (one plan completed it), two cancelled, one completed, one
    paying: the product's completion rate is 1/3 … of finished plans, 1 completed of 3."""
    limited = pd.DataFrame(
        {
            "currency": "USD",
            "product_id": "107",
            "price_before_tax": 333.0,
            "frequency": "month",
            "payments": [3, 1, 2, 1],
            "ended": [True, True, True, False],
            "last_payment_at": [CUTOFF - pd.Timedelta(days=5)] * 4,
        }
    )

    plans = plan_states(limited)

    assert plans["planned"].tolist() == [3, 3, 3, 3]
    assert plans["state"].tolist() == ["completed", "cancelled", "cancelled", "active"]
    assert plans["completion_rate"].tolist() == pytest.approx([1 / 3] * 4)
    active = plans[plans["state"] == "active"]
    # Due 25.4 and 55.9 days on: within 30 days one, within a year both remaining.
    assert expected_instalments(active, CUTOFF, np.array([30.0])) == pytest.approx([1 / 3])
    assert expected_instalments(active, CUTOFF, np.array([365.0])) == pytest.approx([2 / 3])


def test_rfm_counts_repeat_orders_in_weeks_and_averages_only_repeat_values() -> None:
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "currency": "USD",
            "order_id": ["1", "2", "3", "4"],
            "bought_at": pd.to_datetime(["2026-01-01", "2026-01-15", "2026-03-12", "2026-06-03"]),
            "value": [197.0, 27.0, 33.0, 17.0],
        }
    )

    rfm = rfm_summary(orders, CUTOFF).set_index("customer_id")

    assert rfm.loc["a", ["frequency", "recency", "T", "monetary_value"]].tolist() == [
        2,
        pytest.approx(10.0),
        pytest.approx(181 / 7),
        pytest.approx(30.0),
    ]
    assert rfm.loc["b", ["frequency", "recency", "T", "monetary_value"]].tolist() == [
        0,
        0.0,
        pytest.approx(4.0),
        0.0,
    ]


def test_the_report_continues_each_cohort_curve_dashed_to_its_forecast() -> None:
    """A cohort observed to day 90 continues to its predicted LTV at days 365 and 730; one
    observed past day 365 continues only to day 730; a cohort without a forecast does not."""
    cohorts = [
        {
            "segment_value": month,
            "day_n": day,
            "ltv": ltv,
            "ltv_charge_clock": ltv,
            "eligible_customers": 10,
        }
        for month, points in (
            ("2025-01-01", ((0, 100), (90, 150), (365, 190))),
            ("2026-03-01", ((0, 80), (90, 120))),
            ("2026-05-01", ((0, 70),)),
        )
        for day, ltv in points
    ]
    forecast = [
        {"cohort_month": date(2025, 1, 1), "predicted_ltv_12m": 190, "predicted_ltv_24m": 240},
        {"cohort_month": date(2026, 3, 1), "predicted_ltv_12m": 170, "predicted_ltv_24m": 200},
    ]

    figure = charts.day_n_curves([], cohorts, "USD", forecast)

    dashed = {t.name: (list(t.x), list(t.y)) for t in figure.data if t.line.dash == "dash"}
    assert dashed == {
        "Cohort 2025-01 (forecast)": ([365, 730], [190, 240]),
        "Cohort 2026-03 (forecast)": ([90, 365, 730], [120, 170, 200]),
    }
    by_name = {t.name: t for t in figure.data if t.meta["clock"] == "cash"}
    assert by_name["Cohort 2026-03 (forecast)"].line.color == by_name["Cohort 2026-03"].line.color

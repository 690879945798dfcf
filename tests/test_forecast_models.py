"""The forecast's models on data of known shape: parameter recovery from simulated histories,
and the arithmetic of their predictions against values worked out by hand.

PyTensor compiles each model's C code once per machine (in its compile directory, shared by
every process); the models here are the pipeline's own, so a test run after the first reuses
that code.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from pymc_marketing.clv.distributions import BetaGeoNBD, ShiftedBetaGeometric

from pipeline.forecast.purchases import fit_purchases, rfm_summary
from pipeline.forecast.retention import Retention, expected_payments, fit_retention
from pipeline.forecast.split_pay import expected_instalments, plan_states
from pipeline.report import charts

CUTOFF = pd.Timestamp("2026-07-01")
TRUE_BG_NBD = {"r": 0.8, "alpha": 10.0, "a": 0.6, "b": 2.5}


def test_bg_nbd_recovers_the_parameters_it_was_simulated_with() -> None:
    """50,000 customers observed for six months to two years, drawn by pymc-marketing's BG/NBD
    simulator: enough that sampling error stays well inside the 10% (a and b, the dropout
    shape, are the least determined; they land within 3.4%)."""
    rng = np.random.default_rng(7)
    customers = 50_000
    age = rng.uniform(26, 104, customers)
    draws = pm.draw(BetaGeoNBD.dist(**TRUE_BG_NBD, T=age), random_seed=11)
    rfm = pd.DataFrame(
        {
            "customer_id": np.arange(customers),
            "currency": "USD",
            "frequency": draws[:, 1],
            "recency": draws[:, 0],
            "T": age,
            "monetary_value": 0.0,
        }
    )

    fitted = fit_purchases(rfm).parameters()

    errors = {name: abs(fitted[name] / true - 1) for name, true in TRUE_BG_NBD.items()}
    assert max(errors.values()) < 0.10, errors


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

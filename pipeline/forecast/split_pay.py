"""Split-pay plans: the instalments still due, times the share of plans that complete.

A split-pay (limited) plan is a fixed number of instalments. One still paying at the forecast
date is expected to pay each remaining instalment, on its monthly schedule, with the completion
rate of its product: completed / (completed + cancelled), the rule of `split_pay_plans`,
counted over the plans finished by the forecast date (of the currency when the product has
none yet, else 1).

The number of instalments is the most any plan of the same product, currency and instalment
price before tax has collected by the forecast date: ThriveCart sells a fixed schedule per
pricing option, and exports do not record it (only webhooks do, and only from their setup on).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.forecast.inputs import PERIOD_DAYS

SCHEDULE = ["currency", "product_id", "price_before_tax"]


def plan_states(limited: pd.DataFrame) -> pd.DataFrame:
    """`limited` with `planned` instalments, `state` (completed, cancelled, active) and the
    product's `completion_rate`."""
    plans = limited.assign(
        planned=limited.groupby(SCHEDULE)["payments"].transform("max"),
    )
    completed = plans["payments"] >= plans["planned"]
    plans["state"] = np.select(
        [completed, plans["ended"]], ["completed", "cancelled"], default="active"
    )
    return plans.assign(completion_rate=_completion_rates(plans))


def _completion_rates(plans: pd.DataFrame) -> pd.Series:
    """Each plan's product's completion rate, else its currency's, else 1."""
    finished = plans.assign(
        done=(plans["state"] == "completed").astype(float),
        finished=(plans["state"] != "active").astype(float),
    )
    rate = pd.Series(np.nan, index=plans.index)
    for level in (["currency", "product_id"], ["currency"]):
        sums = finished.groupby(level)[["done", "finished"]].transform("sum")
        rate = rate.fillna(sums["done"] / sums["finished"].where(sums["finished"] > 0))
    return rate.fillna(1.0)


def expected_instalments(
    active: pd.DataFrame, cutoff: pd.Timestamp, days: np.ndarray
) -> np.ndarray:
    """Expected instalments of each active plan within `days` after the cutoff."""
    period = active["frequency"].map(PERIOD_DAYS).fillna(PERIOD_DAYS["month"]).to_numpy()
    since = ((cutoff - active["last_payment_at"]) / pd.Timedelta(days=1)).to_numpy()
    days = np.asarray(days, dtype=float)
    due = np.where(days > 0, np.floor((since + days) / period), 0)
    remaining = (active["planned"] - active["payments"]).to_numpy()
    return np.minimum(np.maximum(due, 0), remaining) * active["completion_rate"].to_numpy()

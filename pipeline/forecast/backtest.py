"""Backtest: forecast the last months of the history from the months before, per cohort.

The models are fitted on the warehouse as it stood `holdout_months` before `as_of` (the
cutoff; nothing after it is read, see pipeline.forecast.inputs) and predict each acquisition
cohort's net revenue from the cutoff to `as_of`. The naive baseline continues each cohort's
recent growth: its net revenue over the `recent_months` before the cutoff (or since its
acquisition month began, when younger), per month, times the months held out. Both are scored
by their mean absolute error over the cohorts (currency and month) acquired by the cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

from pipeline.forecast.inputs import DAYS_PER_MONTH, build_as_of, read_inputs
from pipeline.forecast.value import PARTS, fit_forecast

HOLDOUT_MONTHS, RECENT_MONTHS = 6, 3

# Per cohort acquired by the cutoff: what it collected after the cutoff, and its recent rate.
COHORTS_SQL = """
with acquired as (
    select customer_id, currency,
           cast(date_trunc('month', min(paid_date)) as date) as cohort_month
    from marts.fct_payments
    where amount > 0 and paid_at <= $cutoff
    group by customer_id, currency
),
windows as (
    select *, greatest($cutoff - to_months($recent), cast(cohort_month as timestamp))
              as recent_from
    from acquired
)
select windows.currency, windows.cohort_month, count(distinct windows.customer_id) as customers,
       coalesce(sum(payments.amount) filter (where payments.paid_at > $cutoff), 0)::double
           as actual,
       coalesce(sum(payments.amount) filter (
           where payments.paid_at > windows.recent_from and payments.paid_at <= $cutoff),
           0)::double as recent,
       max(epoch($cutoff - windows.recent_from)) / 86400 / $days_per_month as recent_months
from windows
left join marts.fct_payments as payments
    on payments.customer_id = windows.customer_id
    and payments.currency = windows.currency
    and payments.paid_at <= $as_of
group by windows.currency, windows.cohort_month
order by windows.currency, windows.cohort_month
"""


@dataclass(frozen=True)
class BacktestResult:
    """Per cohort the actual, forecast and naive net revenue over the holdout; their MAEs."""

    cutoff: datetime
    as_of: datetime
    cohorts: pd.DataFrame

    @property
    def mae_forecast(self) -> float:
        return float((self.cohorts["forecast"] - self.cohorts["actual"]).abs().mean())

    @property
    def mae_naive(self) -> float:
        return float((self.cohorts["naive"] - self.cohorts["actual"]).abs().mean())

    @property
    def improvement(self) -> float:
        """How much lower the forecast's MAE is than the naive one's (0.2 = 20% lower)."""
        return 1 - self.mae_forecast / self.mae_naive


def backtest(
    con: duckdb.DuckDBPyConnection,
    holdout_months: int = HOLDOUT_MONTHS,
    recent_months: int = RECENT_MONTHS,
) -> BacktestResult:
    """Fit at `as_of` − `holdout_months`, forecast to `as_of`, compare with the naive rule."""
    as_of, delinquency_days = build_as_of(con)
    cutoff = (pd.Timestamp(as_of) - pd.DateOffset(months=holdout_months)).to_pydatetime()
    fitted = fit_forecast(read_inputs(con, cutoff, delinquency_days))
    horizon = (pd.Timestamp(as_of) - pd.Timestamp(cutoff)) / pd.Timedelta(days=1)
    predicted = fitted.future_value(np.full(len(fitted.inputs.customers), horizon))
    customers = fitted.inputs.customers.assign(forecast=predicted[list(PARTS)].sum(axis=1))
    forecast = customers.groupby(["currency", "cohort_month"])["forecast"].sum()
    params = {
        "cutoff": cutoff,
        "as_of": as_of,
        "recent": recent_months,
        "days_per_month": DAYS_PER_MONTH,
    }
    cohorts = con.execute(COHORTS_SQL, params).df()
    cohorts["forecast"] = forecast.reindex(
        pd.MultiIndex.from_frame(cohorts[["currency", "cohort_month"]])
    ).to_numpy()
    cohorts["naive"] = cohorts["recent"] / cohorts["recent_months"] * (horizon / DAYS_PER_MONTH)
    return BacktestResult(cutoff, as_of, cohorts)

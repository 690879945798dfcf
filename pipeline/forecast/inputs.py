"""What the forecast models read from the warehouse, as it stood at a moment (`cutoff`).

Every query takes the cutoff, so the live forecast (cutoff = `as_of`) and the backtest (cutoff
= six months earlier) read the same way and a backtest sees nothing of its future: payments
after the cutoff are ignored, a cancellation after it has not happened yet, and a split-pay
plan's schedule is inferred from what had been collected by then.

The marts are read from schema `marts` of the warehouse (the forecast runs before publishing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

# Days per billing period; ThriveCart's frequencies, as docs/marts.md normalises MRR.
PERIOD_DAYS = {"day": 1.0, "week": 7.0, "month": 30.4375, "quarter": 91.3125, "year": 365.25}
DAYS_PER_MONTH = PERIOD_DAYS["month"]

# One row per acquired customer (customer and currency), as dim_customers defines acquisition:
# the first payment above zero. Revenue to date, and within 12 and 24 months of acquisition.
CUSTOMERS_SQL = """
with payments as (
    select * from marts.fct_payments where paid_at <= $cutoff
),
firsts as (
    select customer_id, currency,
           min(paid_at) as first_paid_at,
           min(paid_date) as first_paid_date,
           arg_min(coalesce(account, '(unknown)'), paid_at) as account
    from payments
    where amount > 0
    group by customer_id, currency
)
select firsts.customer_id, firsts.currency, firsts.account, firsts.first_paid_at,
       cast(date_trunc('month', firsts.first_paid_date) as date) as cohort_month,
       sum(payments.amount)::double as net_revenue,
       coalesce(sum(payments.amount) filter (
           where payments.paid_at < firsts.first_paid_at + interval 12 month), 0)::double
           as net_revenue_12m,
       coalesce(sum(payments.amount) filter (
           where payments.paid_at < firsts.first_paid_at + interval 24 month), 0)::double
           as net_revenue_24m,
       greatest(epoch(firsts.first_paid_at + interval 12 month - $cutoff), 0) / 86400
           as days_to_12m,
       greatest(epoch(firsts.first_paid_at + interval 24 month - $cutoff), 0) / 86400
           as days_to_24m
from firsts
inner join payments using (customer_id, currency)
group by all
order by firsts.currency, firsts.customer_id
"""

# One row per order bought (docs/marts.md, "Repeat purchases"): bought at its first payment
# above zero. Its value is what the checkout itself collected, refunds of one-time items
# included; a subscription's rebills (and their refunds) belong to the retention models.
ORDERS_SQL = """
select customer_id, currency, order_id,
       min(paid_at) filter (where payment_type in ('charge', 'rebill') and amount > 0)
           as bought_at,
       coalesce(sum(amount) filter (
           where payment_type = 'charge'
              or (payment_type = 'refund' and subscription_id is null)), 0)::double as value
from marts.fct_payments
where paid_at <= $cutoff
group by customer_id, currency, order_id
having bought_at is not null
order by currency, customer_id, bought_at
"""

# One row per subscription with a payment above zero by the cutoff: its plan, the payments it
# collected (every charge and rebill is one billing period), its latest amount above zero (its
# price, as MRR takes it) and whether a cancellation had reached us by then.
SUBSCRIPTIONS_SQL = """
with paid as (
    select subscription_id,
           count(*) as payments,
           max(paid_at) as last_payment_at,
           arg_max(amount, paid_at) filter (where amount > 0)::double as amount,
           max(amount - coalesce(tax_amount, 0)) as price_before_tax
    from marts.fct_payments
    where subscription_id is not null and payment_type in ('charge', 'rebill')
      and paid_at <= $cutoff
    group by subscription_id
    having max(amount) > 0
)
select subscriptions.subscription_id, subscriptions.customer_id, subscriptions.currency,
       subscriptions.kind, coalesce(subscriptions.product_id, '(unknown)') as product_id,
       lower(subscriptions.frequency) as frequency, paid.payments, paid.last_payment_at,
       paid.amount, paid.price_before_tax,
       coalesce(subscriptions.cancelled_at <= $cutoff, false) as cancelled
from marts.dim_subscriptions as subscriptions
inner join paid using (subscription_id)
order by subscriptions.subscription_id
"""


@dataclass(frozen=True)
class ForecastInputs:
    """The warehouse at `cutoff`: customers, their orders, and their subscriptions."""

    cutoff: datetime | None
    customers: pd.DataFrame
    orders: pd.DataFrame
    subscriptions: pd.DataFrame


def build_as_of(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, int]:
    """`as_of` of the marts and the delinquency days they were built with (mart_metadata).

    `as_of` is None while the warehouse holds no data: every query then reads nothing, and
    the forecast marts are written empty, as the dbt marts are.
    """
    as_of, delinquency_days = con.execute(
        "select as_of, delinquency_days from marts.mart_metadata"
    ).fetchone()
    return as_of, int(delinquency_days)


def read_inputs(
    con: duckdb.DuckDBPyConnection, cutoff: datetime | None, delinquency_days: int
) -> ForecastInputs:
    """Everything the models need, as the warehouse stood at `cutoff` (UTC, naive)."""
    params = {"cutoff": cutoff}
    subscriptions = con.execute(SUBSCRIPTIONS_SQL, params).df()
    subscriptions["kind"] = _known_kinds(subscriptions)
    subscriptions["ended"] = _ended(subscriptions, cutoff, delinquency_days)
    return ForecastInputs(
        cutoff=cutoff,
        customers=con.execute(CUSTOMERS_SQL, params).df(),
        orders=con.execute(ORDERS_SQL, params).df(),
        subscriptions=subscriptions,
    )


def _ended(
    subscriptions: pd.DataFrame, cutoff: datetime | None, delinquency_days: int
) -> pd.Series:
    """Cancelled, or lapsed: a whole period plus the delinquency days passed without a payment
    (ThriveCart may stop retrying without a cancellation reaching us, docs/marts.md)."""
    period = subscriptions["frequency"].map(PERIOD_DAYS).fillna(PERIOD_DAYS["month"])
    overdue = pd.to_timedelta(period + delinquency_days, unit="D")
    lapsed = subscriptions["last_payment_at"] + overdue < pd.Timestamp(cutoff)
    return subscriptions["cancelled"] | lapsed


def _known_kinds(subscriptions: pd.DataFrame) -> pd.Series:
    """Each subscription's kind; one not exported yet takes the kind of the subscriptions
    sold at the same product and price, else is taken for recurring (the common case)."""
    same_plan = ["currency", "product_id", "price_before_tax"]
    known = subscriptions.dropna(subset=["kind"])
    usual = known.groupby(same_plan)["kind"].agg(lambda kinds: kinds.mode().iloc[0])
    guessed = subscriptions[same_plan].merge(
        usual.rename("usual"), how="left", left_on=same_plan, right_index=True
    )["usual"]
    return subscriptions["kind"].fillna(guessed).fillna("recurring")

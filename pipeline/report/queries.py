"""The numbers the report shows, read from the marts with plain SQL, one currency at a time.

Every function takes a connection from `marts.open_marts` (the marts on the search path) and
returns plain rows (dicts keyed by column name) or small dataclasses, so the charts, the page and
the markdown summary share one reading of the marts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb

from pipeline.report.formatting import when

Row = dict[str, Any]

HEADLINE_DAYS = (30, 90, 365)
# LTV by product and by campaign is shown at this day when anyone is eligible at it, else at
# the largest day that has eligible customers.
PREFERRED_SEGMENT_DAY = 90
SEGMENT_LIMIT = 25
# The most common first -> next product paths the report lists.
PATH_LIMIT = 15
# Revenue over a shorter span than this is bucketed by week, longer spans by month.
WEEKLY_BELOW_DAYS = 120
RECONCILIATION_COLUMNS = (
    "matched_count",
    "matched_amount",
    "csv_only_count",
    "csv_only_amount",
    "webhook_only_count",
    "webhook_only_amount",
)


def rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | dict[str, object] = ()
) -> list[Row]:
    """Run `sql` and return every row as a dict keyed by column name."""
    cursor = con.execute(sql, params if isinstance(params, dict) else list(params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def currencies(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every currency with revenue or customers, sorted."""
    sql = "SELECT currency FROM revenue_daily UNION SELECT currency FROM dim_customers ORDER BY 1"
    return [row["currency"] for row in rows(con, sql)]


@dataclass(frozen=True)
class AsOf:
    """How current the numbers are: a UTC time, and what that time is."""

    at: datetime | None
    basis: str

    def describe(self) -> str:
        """E.g. `Data as of 2025-06-30 10:00 UTC (the latest payment)`."""
        return f"Data as of {when(self.at)} ({self.basis})" if self.at else "No data yet"


def data_as_of(con: duckdb.DuckDBPyConnection) -> AsOf:
    """The marts' `as_of` (latest event from any source) from dbt's `mart_metadata`.

    `mart_metadata` is an addition to the marts contract, so marts without it fall back to the
    latest payment, which is at most as late as `as_of`.
    """
    if "as_of" in metadata_columns(con):
        at = rows(con, "SELECT max(as_of) AS at FROM mart_metadata")[0]["at"]
        return AsOf(at, "the latest event from any source")
    return AsOf(
        rows(con, "SELECT max(paid_at) AS at FROM fct_payments")[0]["at"], "the latest payment"
    )


def metadata_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The columns of `mart_metadata`: it is not one of the contract marts the report requires,
    so what it adds is read only where the marts have it."""
    return {
        row["column_name"]
        for row in rows(
            con,
            """SELECT column_name FROM information_schema.columns
               WHERE table_catalog = current_database() AND table_schema = current_schema()
                 AND table_name = 'mart_metadata'""",
        )
    }


@dataclass(frozen=True)
class Headline:
    """The key numbers of one currency."""

    currency: str
    customers: int
    gross_revenue: Decimal
    refunds: Decimal
    net_revenue: Decimal
    # ltv_day_n rows of segment `all`, by day N.
    day_n: dict[int, Row]

    def ltv_at(self, day: int) -> Decimal | None:
        """LTV at `day`; None when nobody is eligible yet or the day is not computed."""
        return self.day_n.get(day, {}).get("ltv")


def headline(con: duckdb.DuckDBPyConnection, currency: str) -> Headline:
    """Customers acquired, revenue totals and LTV by day N of one currency.

    Customers are those of ltv_day_n's segment `all` (the same on every day N), so the count
    is the one the LTV figures divide by.
    """
    totals = rows(
        con,
        """SELECT coalesce(sum(gross_revenue), 0) AS gross, coalesce(sum(refunds), 0) AS refunds,
                  coalesce(sum(net_revenue), 0) AS net
           FROM revenue_daily WHERE currency = ?""",
        [currency],
    )[0]
    curve = {row["day_n"]: row for row in day_n_curves(con, currency, "all")}
    customers = max((row["customers"] for row in curve.values()), default=0)
    return Headline(currency, customers, totals["gross"], totals["refunds"], totals["net"], curve)


def day_n_curves(con: duckdb.DuckDBPyConnection, currency: str, segment_type: str) -> list[Row]:
    """ltv_day_n rows of one segment type, by segment value then day N, on both clocks, with
    the margin (cash clock only)."""
    return rows(
        con,
        """SELECT segment_value, day_n, customers, eligible_customers, net_revenue, ltv,
                  net_revenue_charge_clock, ltv_charge_clock, net_margin, margin_ltv
           FROM ltv_day_n WHERE currency = ? AND segment_type = ?
           ORDER BY segment_value, day_n""",
        [currency, segment_type],
    )


def segment_day(curve: list[Row]) -> int | None:
    """The day N to compare segments at: PREFERRED_SEGMENT_DAY if anyone is eligible at it."""
    eligible = [row["day_n"] for row in curve if row["eligible_customers"] > 0]
    if PREFERRED_SEGMENT_DAY in eligible:
        return PREFERRED_SEGMENT_DAY
    return max(eligible, default=None)


def segment_ltv(
    con: duckdb.DuckDBPyConnection, currency: str, segment_type: str, day: int
) -> list[Row]:
    """LTV at `day` per segment value, highest first; the SEGMENT_LIMIT largest segments.

    First products are labelled `name (id)` from dim_customers, so two products that share a
    name stay apart.
    """
    return rows(
        con,
        """WITH products AS (
               SELECT first_product_id AS id, max(first_product_name) AS name
               FROM dim_customers WHERE currency = $1 GROUP BY 1),
           largest AS (
               SELECT coalesce(p.name || ' (' || d.segment_value || ')',
                               nullif(d.segment_value, ''), '(none)') AS label,
                      d.customers, d.eligible_customers, d.net_revenue, d.ltv,
                      d.net_revenue_charge_clock, d.ltv_charge_clock
               FROM ltv_day_n d
               LEFT JOIN products p ON $2 = 'first_product' AND p.id = d.segment_value
               WHERE d.currency = $1 AND d.segment_type = $2 AND d.day_n = $3
                 AND d.eligible_customers > 0
               ORDER BY d.eligible_customers DESC, label LIMIT $4)
           SELECT * FROM largest ORDER BY ltv DESC, label""",
        [currency, segment_type, day, SEGMENT_LIMIT],
    )


def cohort_cells(con: duckdb.DuckDBPyConnection, currency: str) -> list[Row]:
    """ltv_cohorts_monthly of one currency, by cohort then month since acquisition, on both
    clocks."""
    return rows(
        con,
        """SELECT cohort_month, months_since_acquisition, cohort_customers,
                  cumulative_net_revenue, ltv_per_customer, is_complete,
                  cumulative_net_revenue_charge_clock, ltv_per_customer_charge_clock
           FROM ltv_cohorts_monthly WHERE currency = ?
           ORDER BY cohort_month, months_since_acquisition""",
        [currency],
    )


def forecast_cohorts(con: duckdb.DuckDBPyConnection, currency: str) -> list[Row]:
    """ltv_forecast_cohorts of one currency by cohort (docs/forecast.md); none when the marts
    were published without the forecast."""
    try:
        return rows(
            con,
            """SELECT cohort_month, customers, predicted_ltv_12m, predicted_ltv_24m
               FROM ltv_forecast_cohorts WHERE currency = ? ORDER BY cohort_month""",
            [currency],
        )
    except duckdb.CatalogException:
        return []


def time_grain(con: duckdb.DuckDBPyConnection, currency: str) -> str:
    """`week` when the currency's revenue spans less than WEEKLY_BELOW_DAYS, else `month`."""
    span = rows(
        con,
        """SELECT date_diff('day', min("date"), max("date")) AS days
           FROM revenue_daily WHERE currency = ?""",
        [currency],
    )[0]["days"]
    return "week" if span is not None and span < WEEKLY_BELOW_DAYS else "month"


def revenue_buckets(con: duckdb.DuckDBPyConnection, currency: str, grain: str) -> list[Row]:
    """Gross revenue, refunds (positive) and net revenue per week or month, gaps as zeros."""
    return _per_bucket(
        con, currency, grain, "revenue_daily", ("gross_revenue", "refunds", "net_revenue")
    )


def reconciliation_buckets(con: duckdb.DuckDBPyConnection, currency: str, grain: str) -> list[Row]:
    """Matched, CSV-only and webhook-only payments (counts, amounts) per week or month."""
    return _per_bucket(con, currency, grain, "source_reconciliation", RECONCILIATION_COLUMNS)


def _per_bucket(
    con: duckdb.DuckDBPyConnection,
    currency: str,
    grain: str,
    table: str,
    columns: Sequence[str],
) -> list[Row]:
    """Sums of `columns` of `table` per `grain` (week or month), every bucket from the first
    to the last, so a quiet month shows as zero rather than vanishing from a chart."""
    sums = ", ".join(f"coalesce(sum({c}), 0) AS {c}" for c in columns)
    return rows(
        con,
        f"""WITH data AS (
                SELECT date_trunc($grain, "date")::DATE AS bucket, * FROM {table}
                WHERE currency = $currency),
            buckets AS (
                SELECT unnest(generate_series(min(bucket), max(bucket), ('1 ' || $grain)::INTERVAL
                       ))::DATE AS bucket FROM data)
            SELECT bucket, {sums} FROM buckets LEFT JOIN data USING (bucket)
            GROUP BY bucket ORDER BY bucket""",
        {"grain": grain, "currency": currency},
    )


def reconciliation_totals(con: duckdb.DuckDBPyConnection, currency: str) -> list[Row]:
    """Matched, CSV-only and webhook-only payments (counts, amounts) per payment type."""
    sums = ", ".join(f"sum({column}) AS {column}" for column in RECONCILIATION_COLUMNS)
    return rows(
        con,
        f"""SELECT payment_type, {sums} FROM source_reconciliation
            WHERE currency = ? GROUP BY 1 ORDER BY 1""",
        [currency],
    )


def repeat_cohorts(con: duckdb.DuckDBPyConnection, currency: str) -> list[Row]:
    """repeat_purchase_cohorts of one currency, by account then cohort month."""
    return rows(
        con,
        """SELECT account, cohort_month, customers, repeat_customers, repeat_rate,
                  median_days_to_second_order, avg_orders_per_customer
           FROM repeat_purchase_cohorts WHERE currency = ?
           ORDER BY account, cohort_month""",
        [currency],
    )


def order_counts(con: duckdb.DuckDBPyConnection, currency: str) -> list[Row]:
    """Customers by number of orders, with their share of the account's customers."""
    return rows(
        con,
        """SELECT account, orders_count, customers,
                  customers / sum(customers) OVER (PARTITION BY account) AS share
           FROM customers_by_order_count WHERE currency = ?
           ORDER BY account, orders_count""",
        [currency],
    )


def product_paths(con: duckdb.DuckDBPyConnection, currency: str) -> list[Row]:
    """The PATH_LIMIT most common paths from a first product to the product of the second
    order, labelled `name (id)` like the segments."""
    return rows(
        con,
        """SELECT account,
                  coalesce(first_product_name || ' (' || first_product_id || ')',
                           first_product_id) AS first_product,
                  coalesce(next_product_name || ' (' || next_product_id || ')',
                           next_product_id) AS next_product,
                  customers, first_product_buyers, share_of_first_product_buyers,
                  median_days_between
           FROM product_paths WHERE currency = ? AND next_product_id <> '(none)'
           ORDER BY customers DESC, account, first_product_id, next_product_id
           LIMIT ?""",
        [currency, PATH_LIMIT],
    )

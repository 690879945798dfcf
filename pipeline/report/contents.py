"""What the report shows: the numbers of every currency, read from the marts in one go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from pipeline.report import queries
from pipeline.report.acquisition import AcquisitionContents, collect_acquisition
from pipeline.report.margins import MarginContents, collect_margins
from pipeline.report.queries import AsOf, Headline, Row
from pipeline.report.subscriptions import (
    SubscriptionContents,
    collect_subscriptions,
    window_start,
)

# The segment types the report compares at day N, in the order it shows them.
SEGMENT_TYPES = ("first_product", "campaign", "utm_source", "utm_campaign")


@dataclass(frozen=True)
class CurrencyContents:
    """Everything one currency's section shows."""

    headline: Headline
    cohort_cells: list[Row]
    cohort_curves: list[Row]
    # Predicted LTV per cohort at 12 and 24 months (empty without the forecast marts).
    forecast_cohorts: list[Row]
    segment_day: int | None
    products: list[Row]
    campaigns: list[Row]
    sources: list[Row]
    utm_campaigns: list[Row]
    repeat_cohorts: list[Row]
    order_counts: list[Row]
    paths: list[Row]
    grain: str
    revenue: list[Row]
    reconciliation: list[Row]
    reconciliation_totals: list[Row]
    # Segments of every type at every day N of the currency: the day-N control picks one.
    segments_by_day: dict[str, dict[int, list[Row]]]
    subscriptions: SubscriptionContents
    acquisition: AcquisitionContents

    @property
    def currency(self) -> str:
        return self.headline.currency

    def accounts(self) -> list[str]:
        """Every account the currency's account-keyed marts name, sorted."""
        found = {
            r["account"]
            for part in (self.repeat_cohorts, self.order_counts, self.paths)
            for r in part
        }
        return sorted(found | set(self.subscriptions.accounts()) | set(self.acquisition.accounts()))


@dataclass(frozen=True)
class ReportContents:
    """The whole report: when the data is from, one entry per currency, and what the margin
    means with the cohorts of every currency in one."""

    as_of: AsOf
    published_at: datetime
    currencies: list[CurrencyContents]
    margins: MarginContents


def collect(con: duckdb.DuckDBPyConnection, published_at: datetime) -> ReportContents:
    """Read every number the report shows from the marts on `con`."""
    as_of = queries.data_as_of(con)
    first_month = window_start(con, as_of.at)
    return ReportContents(
        as_of=as_of,
        published_at=published_at,
        currencies=[_currency(con, c, first_month) for c in queries.currencies(con)],
        margins=collect_margins(con),
    )


def _currency(
    con: duckdb.DuckDBPyConnection, currency: str, first_month: date | None
) -> CurrencyContents:
    headline = queries.headline(con, currency)
    day = queries.segment_day(list(headline.day_n.values()))
    grain = queries.time_grain(con, currency)
    by_day = {
        segment_type: {
            n: queries.segment_ltv(con, currency, segment_type, n) for n in headline.day_n
        }
        for segment_type in SEGMENT_TYPES
    }

    def segments(segment_type: str) -> list[Row]:
        return [] if day is None else by_day[segment_type][day]

    return CurrencyContents(
        headline=headline,
        cohort_cells=queries.cohort_cells(con, currency),
        cohort_curves=queries.day_n_curves(con, currency, "cohort_month"),
        forecast_cohorts=queries.forecast_cohorts(con, currency),
        segment_day=day,
        products=segments("first_product"),
        campaigns=segments("campaign"),
        sources=segments("utm_source"),
        utm_campaigns=segments("utm_campaign"),
        repeat_cohorts=queries.repeat_cohorts(con, currency),
        order_counts=queries.order_counts(con, currency),
        paths=queries.product_paths(con, currency),
        grain=grain,
        revenue=queries.revenue_buckets(con, currency, grain),
        reconciliation=queries.reconciliation_buckets(con, currency, grain),
        reconciliation_totals=queries.reconciliation_totals(con, currency),
        segments_by_day=by_day,
        subscriptions=collect_subscriptions(con, currency, first_month),
        acquisition=collect_acquisition(con, currency, first_month),
    )

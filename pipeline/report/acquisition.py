"""What acquiring customers cost and when their margin paid it back, from cac_cohorts
(docs/costs.md), one currency at a time.

Channels are summed over every acquisition month, so a channel reads as one line however long
it has been bought; the months are the last REPORT_MONTHS of every channel together ('*', '*'),
the window the subscription sections show, since a seller deciding what to spend next looks at
the past year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from pipeline.report.queries import Row, rows


@dataclass(frozen=True)
class AcquisitionContents:
    """One currency's channels (summed over months) and months (all channels), by account."""

    channels: list[Row]
    months: list[Row]

    def accounts(self) -> list[str]:
        """Every account with a channel, sorted."""
        return sorted({r["account"] for r in self.channels})

    def has_spend(self) -> bool:
        """Whether any ad spend is dated in any month: without it CAC means nothing."""
        return any(r["spend"] > 0 for r in self.channels)


def collect_acquisition(
    con: duckdb.DuckDBPyConnection, currency: str, first_month: date | None
) -> AcquisitionContents:
    """The channels and the months since `first_month` of `currency`."""
    if first_month is None:
        return AcquisitionContents([], [])
    return AcquisitionContents(channel_totals(con, currency), months(con, currency, first_month))


def channel_totals(con: duckdb.DuckDBPyConnection, currency: str) -> list[Row]:
    """Each channel's total (campaign '*') summed over its acquisition months: CAC and margin
    to CAC as the mart computes them, over the sums; of the months with spend, how many paid
    back and their median payback month. Most spend first."""
    return rows(
        con,
        """SELECT account, channel, sum(spend) AS spend, sum(new_customers) AS new_customers,
                  CASE WHEN sum(spend) > 0 AND sum(new_customers) > 0
                       THEN round(sum(spend) / sum(new_customers), 2) END AS cac,
                  CASE WHEN sum(new_customers) > 0
                       THEN round(sum(net_margin) / sum(new_customers), 2)
                  END AS margin_ltv_to_date,
                  CASE WHEN sum(spend) > 0 AND sum(new_customers) > 0
                       THEN round(sum(net_margin) / sum(spend), 2) END AS margin_ltv_to_cac,
                  count(*) FILTER (WHERE spend > 0) AS months_with_spend,
                  count(payback_months) AS months_paid_back,
                  median(payback_months) AS median_payback_month
           FROM cac_cohorts WHERE currency = ? AND campaign = '*' AND channel <> '*'
           GROUP BY account, channel ORDER BY account, spend DESC, channel""",
        [currency],
    )


def months(con: duckdb.DuckDBPyConnection, currency: str, first_month: date) -> list[Row]:
    """Every channel's acquisition months ('*', '*') from `first_month`, by account then month."""
    return rows(
        con,
        """SELECT account, cohort_month, spend, new_customers, cac, margin_ltv_to_date,
                  margin_ltv_to_cac, payback_months
           FROM cac_cohorts
           WHERE currency = ? AND channel = '*' AND campaign = '*' AND cohort_month >= ?
           ORDER BY account, cohort_month""",
        [currency, first_month],
    )

"""The subscription marts of one currency: MRR movements, retention, failed payments, split pay.

MRR, retention and failed payments are shown over the last REPORT_MONTHS months, ending at the
month of as_of (mrr_monthly's last month): older months are history the product keeps in the
marts, while a seller deciding what to do next looks at the past year. Split-pay plans are all
listed, since an old plan may still have instalments outstanding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from pipeline.report.queries import Row, rows

REPORT_MONTHS = 12
# The money columns of mrr_monthly the MRR table shows, in its order.
MRR_AMOUNTS = (
    "opening_mrr",
    "new_mrr",
    "expansion_mrr",
    "reactivation_mrr",
    "contraction_mrr",
    "churned_mrr_voluntary",
    "churned_mrr_delinquent",
    "closing_mrr",
)


@dataclass(frozen=True)
class SubscriptionContents:
    """What one currency's subscription sections show, rows ordered by account."""

    first_month: date | None
    mrr: list[Row]
    retention: list[Row]
    failed: list[Row]
    split_pay: list[Row]

    def accounts(self) -> list[str]:
        """Every account with a row in any of the four marts, sorted."""
        found = {
            r["account"]
            for part in (self.mrr, self.retention, self.failed, self.split_pay)
            for r in part
        }
        return sorted(found)


def window_start(con: duckdb.DuckDBPyConnection, as_of: datetime | None) -> date | None:
    """The first month shown: REPORT_MONTHS − 1 months before as_of's month.

    as_of's month is mrr_monthly's last month (it runs to as_of in the reporting time zone);
    without MRR rows it is as_of's UTC month. None when the marts have no data at all.
    """
    last = rows(con, "SELECT max(month) AS month FROM mrr_monthly")[0]["month"]
    if last is None and as_of is None:
        return None
    last = last or date(as_of.year, as_of.month, 1)
    months = last.year * 12 + last.month - 1 - (REPORT_MONTHS - 1)
    return date(months // 12, months % 12 + 1, 1)


def collect_subscriptions(
    con: duckdb.DuckDBPyConnection, currency: str, first_month: date | None
) -> SubscriptionContents:
    """The four subscription marts' rows of `currency` the report shows."""
    if first_month is None:
        return SubscriptionContents(None, [], [], [], [])
    since = [currency, first_month]
    return SubscriptionContents(
        first_month=first_month,
        mrr=rows(
            con,
            """SELECT * FROM mrr_monthly WHERE currency = ? AND month >= ?
               ORDER BY account, month""",
            since,
        ),
        retention=rows(
            con,
            """SELECT * FROM subscription_retention_cohorts
               WHERE currency = ? AND start_month >= ?
               ORDER BY account, start_month, months_since_start""",
            since,
        ),
        failed=rows(
            con,
            """SELECT * FROM failed_payment_recovery WHERE currency = ? AND failure_month >= ?
               ORDER BY account, failure_month, kind""",
            since,
        ),
        split_pay=rows(
            con,
            """SELECT * FROM split_pay_plans WHERE currency = ?
               ORDER BY account, start_month DESC, product_id""",
            [currency],
        ),
    )

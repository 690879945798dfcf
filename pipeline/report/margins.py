"""What the margin means and the cohorts in one currency: mart_metadata's margin basis and
conversion counts, and ltv_cohorts_all_currencies (docs/costs.md).

Margin equals revenue until cost files are loaded, so the report says which costs are in
beside every margin; the cohorts in the reporting currency exist only when
LTV_REPORTING_CURRENCY is set, and leave out the payments without a rate, which it counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipeline.report.queries import Row, metadata_columns, rows

METADATA = ("margin_basis", "payments_not_converted")


@dataclass(frozen=True)
class MarginContents:
    """Which costs the margin subtracts (None: the marts do not say), and each cohort at its
    latest month in the reporting currency (empty without one)."""

    basis: str | None
    converted_cohorts: list[Row]
    payments_not_converted: int | None

    @property
    def reporting_currency(self) -> str | None:
        """LTV_REPORTING_CURRENCY, when the marts hold converted cohorts."""
        return self.converted_cohorts[0]["reporting_currency"] if self.converted_cohorts else None


def collect_margins(con: duckdb.DuckDBPyConnection) -> MarginContents:
    """The margin basis, the conversion count and the converted cohorts of the marts."""
    present = [c for c in METADATA if c in metadata_columns(con)]
    found = rows(con, f"SELECT {', '.join(present)} FROM mart_metadata") if present else []
    meta = found[0] if found else {}
    return MarginContents(
        basis=meta.get("margin_basis"),
        converted_cohorts=converted_cohorts(con),
        payments_not_converted=meta.get("payments_not_converted"),
    )


def converted_cohorts(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """ltv_cohorts_all_currencies at each cohort's latest month: LTV and margin LTV to date."""
    return rows(
        con,
        """SELECT reporting_currency, cohort_month, months_since_acquisition, cohort_customers,
                  ltv_per_customer, margin_ltv_per_customer, is_complete
           FROM ltv_cohorts_all_currencies
           QUALIFY months_since_acquisition = max(months_since_acquisition)
                   OVER (PARTITION BY cohort_month)
           ORDER BY cohort_month""",
    )

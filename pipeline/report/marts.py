"""Open a marts database read-only and check it has every table and column the report reads.

The same queries serve the published snapshot (marts in schema `main`) and the working
warehouse (schema `marts`): the connection gets the marts' schema on its search path, so the
queries name tables without a schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipeline.report.subscriptions import MRR_AMOUNTS

SNAPSHOT_SCHEMA = "main"

# What the report and the summary read, by mart (see the marts contract, marts.md).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "fct_payments": ("paid_at",),
    "dim_customers": ("currency", "first_product_id", "first_product_name"),
    "ltv_cohorts_monthly": (
        "currency",
        "cohort_month",
        "months_since_acquisition",
        "cohort_customers",
        "cumulative_net_revenue",
        "ltv_per_customer",
        "is_complete",
        "cumulative_net_revenue_charge_clock",
        "ltv_per_customer_charge_clock",
    ),
    "ltv_day_n": (
        "currency",
        "segment_type",
        "segment_value",
        "day_n",
        "customers",
        "eligible_customers",
        "net_revenue",
        "ltv",
        "net_revenue_charge_clock",
        "ltv_charge_clock",
        "net_margin",
        "margin_ltv",
    ),
    "repeat_purchase_cohorts": (
        "account",
        "currency",
        "cohort_month",
        "customers",
        "repeat_customers",
        "repeat_rate",
        "median_days_to_second_order",
        "avg_orders_per_customer",
    ),
    "customers_by_order_count": ("account", "currency", "orders_count", "customers"),
    "product_paths": (
        "account",
        "currency",
        "first_product_id",
        "first_product_name",
        "next_product_id",
        "next_product_name",
        "customers",
        "first_product_buyers",
        "share_of_first_product_buyers",
        "median_days_between",
    ),
    "revenue_daily": ("currency", "date", "gross_revenue", "refunds", "net_revenue"),
    "source_reconciliation": (
        "date",
        "payment_type",
        "currency",
        "csv_only_count",
        "csv_only_amount",
        "webhook_only_count",
        "webhook_only_amount",
        "matched_count",
        "matched_amount",
    ),
    "mrr_monthly": (
        "account",
        "currency",
        "month",
        *MRR_AMOUNTS,
        "closing_subscribers",
        "is_month_complete",
    ),
    "subscription_retention_cohorts": (
        "account",
        "currency",
        "start_month",
        "months_since_start",
        "subscribers",
        "starting_mrr",
        "retained_subscribers",
        "retained_mrr",
        "logo_retention",
        "net_mrr_retention",
        "is_month_complete",
    ),
    "failed_payment_recovery": (
        "account",
        "currency",
        "kind",
        "failure_month",
        "failed_rebills",
        "recovered",
        "not_recovered",
        "pending",
        "recovery_rate",
        "recovered_amount",
    ),
    "split_pay_plans": (
        "account",
        "currency",
        "product_id",
        "product_name",
        "start_month",
        "plans",
        "completed",
        "cancelled",
        "active",
        "completion_rate",
        "instalments_collected",
        "instalments_outstanding",
        "outstanding_amount",
        "plans_with_unknown_schedule",
    ),
    "cac_cohorts": (
        "account",
        "currency",
        "cohort_month",
        "channel",
        "campaign",
        "spend",
        "new_customers",
        "cac",
        "net_margin",
        "margin_ltv_to_date",
        "margin_ltv_to_cac",
        "payback_months",
    ),
    "ltv_cohorts_all_currencies": (
        "reporting_currency",
        "cohort_month",
        "months_since_acquisition",
        "cohort_customers",
        "ltv_per_customer",
        "margin_ltv_per_customer",
        "is_complete",
    ),
}


class ReportError(RuntimeError):
    """The report cannot be built; the message says why and what to do."""


@contextmanager
def open_marts(
    database: Path, schema: str = SNAPSHOT_SCHEMA
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to `database` with `schema` on its search path.

    Raises ReportError when the file is missing or lacks a table or column the report reads.
    """
    if not schema.isidentifier():
        raise ValueError(f"schema must be a plain SQL name, not {schema!r}")
    if not database.is_file():
        raise ReportError(
            f"No marts database at {database}. Run `ltv run` first: it builds the marts and "
            "publishes the snapshot the report reads (LTV_MARTS_SNAPSHOT)."
        )
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(f"Cannot open {database} read-only: {exc}") from exc
    try:
        _use_schema(con, database, schema)
        _check_columns(con, database, schema)
        yield con
    finally:
        con.close()


def _use_schema(con: duckdb.DuckDBPyConnection, database: Path, schema: str) -> None:
    try:
        con.execute(f"SET search_path = '{schema}'")
    except duckdb.CatalogException as exc:
        raise ReportError(
            f"{database} has no schema `{schema}`: the marts have not been built there yet. "
            "Run `ltv run` to build and publish them."
        ) from exc


def _check_columns(con: duckdb.DuckDBPyConnection, database: Path, schema: str) -> None:
    present = set(
        con.execute(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_catalog = current_database() AND table_schema = ?""",
            [schema],
        ).fetchall()
    )
    tables = {table for table, _ in present}
    missing = [
        table if table not in tables else f"{table}.{column}"
        for table, columns in REQUIRED_COLUMNS.items()
        for column in columns
        if (table, column) not in present
    ]
    if missing:
        lacking = ", ".join(dict.fromkeys(missing))
        raise ReportError(
            f"The marts in {database} (schema {schema}) lack {lacking}. They are older or newer "
            "than this report expects: rebuild and publish them with `ltv run`."
        )

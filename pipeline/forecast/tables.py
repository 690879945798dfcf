"""The forecast marts: `customer_ltv_forecast` and `ltv_forecast_cohorts` (docs/forecast.md).

They are written into schema `marts` of the warehouse after the dbt build, so publishing copies
them into the snapshot and its Parquet files with the dbt marts, descriptions included. Each
write replaces both tables in one transaction and checks their primary keys before committing.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from pipeline.forecast import COHORT_TABLE, CUSTOMER_TABLE
from pipeline.forecast.inputs import DAYS_PER_MONTH
from pipeline.forecast.value import PARTS, FittedForecast

DAYS_12_MONTHS = 12 * DAYS_PER_MONTH
# "Lifetime" stops here: past three years the models extrapolate far beyond any history a
# seller has, and a value that far out is worth little today.
LIFETIME_MONTHS = 36
PRIMARY_KEYS = {
    CUSTOMER_TABLE: ("customer_id", "currency"),
    COHORT_TABLE: ("currency", "cohort_month"),
}
MONEY = "decimal(18, 2)"

# Column -> (SQL type, description). The descriptions become the tables' column comments.
CUSTOMER_COLUMNS: dict[str, tuple[str, str]] = {
    "customer_id": ("varchar", "Stable customer key (dim_customers)."),
    "currency": ("varchar", "ISO 4217 code; a customer buying in two currencies has two rows."),
    "account": ("varchar", "Account of the acquiring payment, '(unknown)' when none names it."),
    "cohort_month": ("date", "Month of the first payment above zero (dim_customers)."),
    "as_of": ("timestamp", "The moment forecast from: mart_metadata.as_of of the build."),
    "net_revenue_to_date": (MONEY, "Net revenue to as_of (dim_customers.net_revenue)."),
    "probability_active": (
        "double",
        "1 with a running subscription or split-pay plan, else BG/NBD's probability that the "
        "customer still buys (null when their currency has too little history for the model).",
    ),
    "expected_purchases_12m": ("double", "Expected new orders in the 12 months after as_of."),
    "expected_order_value": (MONEY, "Expected value of one future order (Gamma-Gamma)."),
    "expected_value_12m_orders": (MONEY, "Expected value of new orders in 12 months."),
    "expected_value_12m_subscriptions": (
        MONEY,
        "Expected rebills of running recurring subscriptions in 12 months (sBG per plan).",
    ),
    "expected_value_12m_split_pay": (
        MONEY,
        "Expected instalments of active split-pay plans in 12 months (remaining × completion "
        "rate).",
    ),
    "expected_value_12m": (MONEY, "Expected net revenue in the 12 months after as_of."),
    "predicted_future_value": (
        MONEY,
        f"Expected net revenue in the {LIFETIME_MONTHS} months after as_of (the lifetime).",
    ),
    "predicted_ltv": (MONEY, "net_revenue_to_date + predicted_future_value."),
    "models": (
        "varchar",
        "The models behind the forecast: bg_nbd+gamma_gamma (or +mean_spend), +sbg, "
        "+split_pay; none when no model applies.",
    ),
}
COHORT_COLUMNS: dict[str, tuple[str, str]] = {
    "currency": ("varchar", "ISO 4217 code."),
    "cohort_month": ("date", "Acquisition month (dim_customers.cohort_month)."),
    "as_of": ("timestamp", "The moment forecast from: mart_metadata.as_of of the build."),
    "customers": ("integer", "Customers acquired in the month."),
    "net_revenue_to_date": (MONEY, "Their net revenue to as_of."),
    "ltv_to_date": (MONEY, "net_revenue_to_date per customer."),
    "predicted_ltv_12m": (
        MONEY,
        "Predicted net revenue per customer in their first 12 months (actual where those "
        "months are past, forecast for the rest).",
    ),
    "predicted_ltv_24m": (MONEY, "The same over their first 24 months."),
    "predicted_ltv": (MONEY, "customer_ltv_forecast.predicted_ltv per customer."),
    "predicted_ltv_total": (MONEY, "customer_ltv_forecast.predicted_ltv over the cohort."),
}


def customer_table(fitted: FittedForecast) -> pd.DataFrame:
    """One row per customer and currency: value to date, the 12-month and lifetime forecast.

    Amounts are rounded to the cent before they are added, so every total is the exact sum of
    its published parts.
    """
    customers = fitted.inputs.customers
    twelve = fitted.future_value(DAYS_12_MONTHS)
    parts = {part: cents(twelve[part].to_numpy()) for part in PARTS}
    future = cents(fitted.future_value(LIFETIME_MONTHS * DAYS_PER_MONTH)[list(PARTS)].sum(axis=1))
    purchases = twelve["purchases"].to_numpy()
    orders = twelve["orders"].to_numpy()
    table = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy(),
            "currency": customers["currency"].to_numpy(),
            "account": customers["account"].to_numpy(),
            "cohort_month": customers["cohort_month"].to_numpy(),
            "as_of": fitted.cutoff,
            "net_revenue_to_date": customers["net_revenue"].to_numpy(),
            "probability_active": fitted.probability_active(),
            "expected_purchases_12m": purchases,
            "expected_order_value": np.divide(
                orders, purchases, out=np.zeros_like(orders), where=purchases > 0
            ),
            **{f"expected_value_12m_{part}": value for part, value in parts.items()},
            "expected_value_12m": sum(parts.values()),
            "predicted_future_value": future,
            "predicted_ltv": customers["net_revenue"].to_numpy() + future,
            "models": fitted.models().to_numpy(),
        }
    )
    return table[list(CUSTOMER_COLUMNS)]


def cents(amounts: np.ndarray | pd.Series) -> np.ndarray:
    """Amounts rounded half up to the cent, as the marts round money."""
    return np.floor(np.asarray(amounts, dtype=float) * 100 + 0.5) / 100


def cumulative_value(fitted: FittedForecast, months: int) -> np.ndarray:
    """Per customer, net revenue over their first `months` months since acquisition: actual
    up to the cutoff, forecast from there to the end of those months."""
    customers = fitted.inputs.customers
    days = customers[f"days_to_{months}m"].to_numpy()
    future = fitted.future_value(days)[list(PARTS)].sum(axis=1).to_numpy()
    return customers[f"net_revenue_{months}m"].to_numpy() + future


def cohort_table(fitted: FittedForecast, customers: pd.DataFrame) -> pd.DataFrame:
    """One row per currency and cohort month, from the customer table of the same fit.

    Sums are of whole cents and averages rounded half up to the cent, as the dbt marts round
    (`rounded_quotient`), so a cohort whose months are past shows exactly what it collected.
    """
    amounts = {
        "net_revenue_to_date": customers["net_revenue_to_date"],
        "value_12m": cents(cumulative_value(fitted, 12)),
        "value_24m": cents(cumulative_value(fitted, 24)),
        "predicted_ltv_total": customers["predicted_ltv"],
    }
    per_customer = customers[["currency", "cohort_month"]].assign(
        **{
            name: np.rint(np.asarray(value, dtype=float) * 100).astype("int64")
            for name, value in amounts.items()
        }
    )
    cohorts = per_customer.groupby(["currency", "cohort_month"], sort=True).agg(
        customers=("value_12m", "size"), **{name: (name, "sum") for name in amounts}
    )
    size = cohorts["customers"].to_numpy()
    averages = {
        "ltv_to_date": "net_revenue_to_date",
        "predicted_ltv_12m": "value_12m",
        "predicted_ltv_24m": "value_24m",
        "predicted_ltv": "predicted_ltv_total",
    }
    cohorts = cohorts.assign(
        as_of=fitted.cutoff,
        **{name: _mean_cents(cohorts[total].to_numpy(), size) for name, total in averages.items()},
        net_revenue_to_date=cohorts["net_revenue_to_date"] / 100,
        predicted_ltv_total=cohorts["predicted_ltv_total"] / 100,
    ).reset_index()
    return cohorts[list(COHORT_COLUMNS)]


def _mean_cents(total_cents: np.ndarray, count: np.ndarray) -> np.ndarray:
    """total / count in major units, rounded half up (away from zero) to the cent."""
    rounded = (np.abs(total_cents) * 2 + count) // (2 * count)
    return np.sign(total_cents) * rounded / 100


def write_tables(
    con: duckdb.DuckDBPyConnection, customers: pd.DataFrame, cohorts: pd.DataFrame
) -> dict[str, int]:
    """Replace both marts in one transaction, with their comments; rows per table.

    Raises ValueError (and writes nothing) when a primary key is null or repeated.
    """
    con.execute("BEGIN")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        for table, frame, columns in (
            (CUSTOMER_TABLE, customers, CUSTOMER_COLUMNS),
            (COHORT_TABLE, cohorts, COHORT_COLUMNS),
        ):
            _write(con, table, frame, columns)
        problems = [problem for table in PRIMARY_KEYS for problem in key_violations(con, table)]
        if problems:
            raise ValueError("; ".join(problems))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {CUSTOMER_TABLE: len(customers), COHORT_TABLE: len(cohorts)}


def _write(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    columns: dict[str, tuple[str, str]],
) -> None:
    """Create `marts.<table>` from `frame`, money rounded half up to the cent by the cast."""
    casts = ", ".join(f"cast({name} as {kind}) as {name}" for name, (kind, _) in columns.items())
    con.register("forecast_rows", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE marts.{table} AS SELECT {casts} FROM forecast_rows")
    finally:
        con.unregister("forecast_rows")
    for name, (_, description) in columns.items():
        con.execute(f"COMMENT ON COLUMN marts.{table}.{name} IS {_literal(description)}")


def key_violations(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """What breaks `table`'s primary key: null key columns, repeated keys (empty when none)."""
    key = PRIMARY_KEYS[table]
    nulls, repeated = con.execute(
        f"""select count(*) filter (where {" or ".join(f"{c} is null" for c in key)}),
                   count(*) - count(distinct ({", ".join(key)}))
            from marts.{table}"""
    ).fetchone()
    problems = [f"{table}: {nulls} row(s) with a null key"] if nulls else []
    return problems + ([f"{table}: {repeated} repeated key(s)"] if repeated else [])


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"

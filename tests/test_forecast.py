"""The forecast on a generated seller: its backtest against the naive rule, and the two marts
it writes against the dbt marts they must agree with."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_dbt_support import built_once, generate_and_replay, load_landing, run_dbt, settings_for

from pipeline.forecast import COHORT_TABLE, CUSTOMER_TABLE
from pipeline.forecast.backtest import backtest
from pipeline.forecast.retention import _labels
from pipeline.forecast.tables import COHORT_COLUMNS, CUSTOMER_COLUMNS, key_violations, write_tables
from pipeline.forecast.write import write_forecast

CENT = Decimal("0.01")


def _build(root: Path) -> None:
    settings = settings_for(root)
    generate_and_replay(settings, customers=1500, seed=11)
    load_landing(settings)
    run_dbt(settings, "build", "--exclude", "resource_type:unit_test")
    write_forecast(settings)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """A generated seller's warehouse after the dbt build and the forecast, read-only."""
    with built_once(tmp_path_factory, "forecast-seller", _build) as root:
        con = duckdb.connect(str(settings_for(root).warehouse), read_only=True)
        yield con
        con.close()


def test_forecast_beats_continuing_each_cohorts_recent_growth(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    result = backtest(warehouse)

    assert result.cutoff == pd.Timestamp(result.as_of) - pd.DateOffset(months=6)
    # What each cohort collected after the cutoff, counted apart from the backtest's query.
    actual = warehouse.execute(
        """with acquired as (
               select customer_id, currency, min(paid_date) as first_paid_date
               from marts.fct_payments where amount > 0 and paid_at <= $cutoff group by all)
           select sum(amount)::double from marts.fct_payments join acquired using (customer_id,
               currency) where paid_at > $cutoff""",
        {"cutoff": result.cutoff},
    ).fetchone()[0]
    assert result.cohorts["actual"].sum() == pytest.approx(actual)
    assert result.cohorts["forecast"].notna().all()
    assert result.improvement >= 0.20, (result.mae_forecast, result.mae_naive)


def test_every_acquired_customer_has_one_forecast_row_with_their_revenue(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    mismatches = warehouse.execute(
        f"""select count(*) from marts.dim_customers as customers
            full join marts.{CUSTOMER_TABLE} as forecast using (customer_id, currency)
            where customers.cohort_month is not null and (forecast.customer_id is null
               or forecast.net_revenue_to_date <> customers.net_revenue
               or forecast.cohort_month <> customers.cohort_month)"""
    ).fetchone()[0]
    assert mismatches == 0
    assert key_violations(warehouse, CUSTOMER_TABLE) == []
    inconsistent = warehouse.execute(
        f"""select count(*) from marts.{CUSTOMER_TABLE}
            where expected_value_12m <> expected_value_12m_orders
                  + expected_value_12m_subscriptions + expected_value_12m_split_pay
               or predicted_ltv <> net_revenue_to_date + predicted_future_value
               or predicted_future_value < expected_value_12m"""
    ).fetchone()[0]
    assert inconsistent == 0
    rows = warehouse.execute(f"select * from marts.{CUSTOMER_TABLE}").df()
    assert rows["probability_active"].between(0, 1).all()
    assert set(rows["models"]) >= {"bg_nbd+gamma_gamma", "bg_nbd+mean_spend+sbg"}


def test_cohorts_add_up_the_customers_and_keep_past_months_actual(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    cohorts = warehouse.execute(f"select * from marts.{COHORT_TABLE}").df()
    marts = warehouse.execute(
        """select currency, cohort_month, cohort_customers, cumulative_net_revenue
           from marts.ltv_cohorts_monthly
           qualify months_since_acquisition
               = max(months_since_acquisition) over (partition by currency, cohort_month)"""
    ).df()
    joined = cohorts.merge(marts, on=["currency", "cohort_month"], how="outer")
    assert (joined["customers"] == joined["cohort_customers"]).all()
    assert (joined["net_revenue_to_date"] == joined["cumulative_net_revenue"]).all()
    assert key_violations(warehouse, COHORT_TABLE) == []
    # A cohort whose first 12 months are over: its 12-month value is what it collected in them.
    first_year = warehouse.execute(
        """with firsts as (
               select customer_id, currency, min(paid_at) as first_paid_at,
                      cast(date_trunc('month', min(paid_date)) as date) as cohort_month
               from marts.fct_payments where amount > 0 group by all)
           select currency, cohort_month, sum(amount), count(distinct customer_id)
           from firsts join marts.fct_payments using (customer_id, currency)
           where paid_at < first_paid_at + interval 12 month
             and first_paid_at + interval 12 month <= (select as_of from marts.mart_metadata)
           group by all
           having count(distinct customer_id) = (select count(*) from firsts as f
               where f.currency = firsts.currency and f.cohort_month = firsts.cohort_month)"""
    ).fetchall()
    assert first_year, "the seller has no cohort a year old"
    by_cohort = cohorts.set_index(["currency", "cohort_month"])["predicted_ltv_12m"]
    for currency, month, revenue, customers in first_year:
        per_customer = (revenue / customers).quantize(CENT, "ROUND_HALF_UP")
        assert by_cohort[(currency, pd.Timestamp(month))] == float(per_customer)


def test_the_marts_describe_every_column(warehouse: duckdb.DuckDBPyConnection) -> None:
    described = warehouse.execute(
        """select table_name, column_name from duckdb_columns()
           where schema_name = 'marts' and table_name in (?, ?) and comment is not null""",
        [CUSTOMER_TABLE, COHORT_TABLE],
    ).fetchall()
    assert sorted(described) == sorted(
        [(CUSTOMER_TABLE, c) for c in CUSTOMER_COLUMNS]
        + [(COHORT_TABLE, c) for c in COHORT_COLUMNS]
    )


def test_a_repeated_key_is_refused_and_the_previous_marts_stay(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "ltv.duckdb"))
    customers = pd.DataFrame({name: [None] for name in CUSTOMER_COLUMNS}).assign(
        customer_id="c1", currency="USD"
    )
    cohorts = pd.DataFrame({name: [None] for name in COHORT_COLUMNS}).assign(
        currency="USD", cohort_month=pd.Timestamp("2026-01-01")
    )
    assert write_tables(con, customers, cohorts) == {CUSTOMER_TABLE: 1, COHORT_TABLE: 1}

    with pytest.raises(ValueError, match=f"{CUSTOMER_TABLE}: 1 repeated key"):
        write_tables(con, pd.concat([customers, customers]), cohorts)

    assert con.execute(f"select count(*) from marts.{CUSTOMER_TABLE}").fetchone() == (1,)


def test_a_warehouse_without_data_gets_empty_forecast_marts(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    settings.warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            """create table marts.mart_metadata as
               select null::timestamp as as_of, 14 as delinquency_days"""
        )
        con.execute(
            """create table marts.fct_payments (customer_id varchar, currency varchar,
                   account varchar, order_id varchar, subscription_id varchar,
                   payment_type varchar, paid_at timestamp, paid_date date,
                   amount decimal(18, 2), tax_amount decimal(18, 2))"""
        )
        con.execute(
            """create table marts.dim_subscriptions (subscription_id varchar,
                   customer_id varchar, currency varchar, kind varchar, product_id varchar,
                   frequency varchar, cancelled_at timestamp)"""
        )

    result = write_forecast(settings)

    assert result.tables == {CUSTOMER_TABLE: 0, COHORT_TABLE: 0}
    assert result.as_of is None


def test_a_subscription_without_a_frequency_is_a_group_of_its_own() -> None:
    frame = pd.DataFrame(
        {"currency": ["USD", "USD"], "product_id": ["7", "7"], "frequency": ["month", None]}
    )
    labels = _labels(frame, ("currency", "product_id", "frequency"))
    assert labels.tolist() == ["USD|7|month", "USD|7|(unknown)"]

"""`ltv run` with LTV_ENGINE=spark on a local Spark: a generated seller loaded, its raw tables
written for Spark, built by dbt on Spark, read back from Spark's Parquet files into the
analysts' snapshot equal to truth.json, with the forecast and the report; then a second run
after a delivery sent again, which rebuilds on Spark and changes no figure. And two accounts
on Spark, each with its own storage and its own numbers."""

from __future__ import annotations

import duckdb
import pytest
from accounts_support import ACCOUNTS, published_accounts, seed_account, with_accounts
from click.testing import CliRunner
from spark_support import skip_without_spark
from test_dbt_support import (
    aggregate_mismatches,
    customer_mismatches,
    generate_and_replay,
    truth_mismatches,
)
from test_ltv_run import replay_first_delivery_again

from pipeline.cli import main
from pipeline.engines.spark import spark_tables
from pipeline.forecast import FORECAST_MARTS
from pipeline.publish import CONTRACT_MARTS
from pipeline.report.build import default_report_path
from pipeline.run.unchanged import published_build_id
from pipeline.settings import Settings, load_settings

CUSTOMERS = 40
SEED = 12


def test_ltv_run_on_spark_publishes_marts_equal_to_truth_in_the_snapshot(
    pipeline_settings: Settings, monkeypatch: pytest.MonkeyPatch, settle
) -> None:
    skip_without_spark()
    truth = generate_and_replay(pipeline_settings, CUSTOMERS, SEED)
    settle(pipeline_settings.landing_dir)
    monkeypatch.setenv("LTV_ENGINE", "spark")
    monkeypatch.setenv("LTV_WAREHOUSE", str(pipeline_settings.warehouse.parent / "spark"))
    settings = load_settings()
    assert settings.spark is not None

    first = CliRunner().invoke(main, ["run"])

    assert first.exit_code == 0, first.output
    assert "files loaded: 11" in first.output
    assert set(CONTRACT_MARTS) <= set(spark_tables(settings.spark.storage, "marts"))
    for name in FORECAST_MARTS:  # the forecast, fitted from the copy, as Parquet for Spark
        assert any((settings.spark.storage / "forecast" / name).glob("*.parquet")), name
    with duckdb.connect(str(settings.marts_snapshot), read_only=True) as snapshot:
        assert truth_mismatches(snapshot, truth) == []
        forecasts = snapshot.execute("select count(*) from customer_ltv_forecast").fetchone()
        payments = snapshot.execute("select count(*) from fct_payments").fetchone()[0]
    assert forecasts[0] > 0
    assert payments == sum(total["payments"] for total in truth["totals"])
    assert default_report_path(settings).is_file()
    build_id = published_build_id(settings.marts_snapshot)

    # A webhook delivered again: Spark builds everything again, and no figure changes.
    replay_first_delivery_again(pipeline_settings, truth)
    again = CliRunner().invoke(main, ["run"])

    assert again.exit_code == 0, again.output
    assert published_build_id(settings.marts_snapshot) not in (None, build_id)
    with duckdb.connect(str(settings.marts_snapshot), read_only=True) as snapshot:
        assert truth_mismatches(snapshot, truth) == []


def test_ltv_run_on_spark_keeps_each_accounts_tables_and_numbers_apart(
    pipeline_settings: Settings, monkeypatch: pytest.MonkeyPatch, settle
) -> None:
    skip_without_spark()
    accounts = with_accounts(monkeypatch)
    truths = {account: seed_account(accounts, account) for account in ACCOUNTS}
    settle(accounts.landing_dir)
    monkeypatch.setenv("LTV_ENGINE", "spark")
    monkeypatch.setenv("LTV_WAREHOUSE", str(accounts.warehouse.parent / "spark"))
    on_spark = load_settings()

    result = CliRunner().invoke(main, ["run"])

    assert result.exit_code == 0, result.output
    assert result.output.count("files loaded: 11") == 2
    for account, truth in truths.items():
        pipeline = on_spark.for_account(account)
        assert pipeline.spark is not None
        assert pipeline.spark.storage == accounts.warehouse.parent / "spark" / account
        assert "fct_payments" in spark_tables(pipeline.spark.storage, "marts")
        with duckdb.connect(str(pipeline.marts_snapshot), read_only=True) as snapshot:
            assert customer_mismatches(snapshot, truth) == []
            assert aggregate_mismatches(snapshot, truth) == []
        assert published_accounts(pipeline.marts_snapshot) == {account}

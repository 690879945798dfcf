"""`ltv run` with LTV_ENGINE=spark on a local Spark, for two ThriveCart accounts: each account's
raw tables written for Spark under its own storage folder, built by dbt on Spark, read back
from Spark's Parquet files into its own snapshot equal to its own truth.json, with the forecast
(also written back as Parquet for Spark) and the report.

The single pipeline without LTV_ACCOUNTS is the same code on the unscoped settings
(tests/test_settings.py); a second build on Spark is in tests/test_dbt_spark.py. Each Spark
build costs a minute or more here, so this one `ltv run` covers both accounts.
"""

from __future__ import annotations

import duckdb
import pytest
from accounts_support import ACCOUNTS, published_accounts, seed_account, with_accounts
from click.testing import CliRunner
from spark_support import skip_without_spark
from test_dbt_support import aggregate_mismatches, customer_mismatches

from pipeline.cli import main
from pipeline.engines.spark import spark_tables
from pipeline.forecast import FORECAST_MARTS
from pipeline.publish import CONTRACT_MARTS
from pipeline.report.build import default_report_path
from pipeline.settings import Settings, load_settings


def test_ltv_run_on_spark_publishes_each_accounts_marts_equal_to_its_truth(
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
        storage = pipeline.spark.storage
        assert storage == accounts.warehouse.parent / "spark" / account
        assert set(CONTRACT_MARTS) <= set(spark_tables(storage, "marts"))
        for name in FORECAST_MARTS:  # fitted from the copy, written back as Parquet for Spark
            assert any((storage / "forecast" / name).glob("*.parquet")), name
        with duckdb.connect(str(pipeline.marts_snapshot), read_only=True) as snapshot:
            assert customer_mismatches(snapshot, truth) == []
            assert aggregate_mismatches(snapshot, truth) == []
            payments = snapshot.execute("select count(*) from fct_payments").fetchone()[0]
            forecasts = snapshot.execute("select count(*) from customer_ltv_forecast").fetchone()
        assert payments == sum(total["payments"] for total in truth["totals"])
        assert forecasts[0] > 0
        assert published_accounts(pipeline.marts_snapshot) == {account}
        assert default_report_path(pipeline).is_file()

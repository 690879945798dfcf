"""Settings that reach the warehouse and dbt: the memory limit, the reporting currency, the
engine and where its warehouse is."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import (
    DEFAULT_MEMORY_LIMIT,
    PROJECT_ROOT,
    SettingsError,
    SparkWarehouse,
    account_pipeline,
    load_settings,
)
from pipeline.warehouse import connect


def test_memory_limit_defaults_and_reaches_dbt() -> None:
    settings = load_settings({"LTV_MEMORY_LIMIT": ""})
    assert settings.memory_limit == DEFAULT_MEMORY_LIMIT == "3GB"
    custom = load_settings({"LTV_MEMORY_LIMIT": " 512MB "})
    assert custom.memory_limit == "512MB"
    assert custom.dbt_vars()["ltv_memory_limit"] == "512MB"


@pytest.mark.parametrize("value", ["3", "lots", "3 GB RAM", "-1GB"])
def test_memory_limit_that_is_not_an_amount_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match=r"LTV_MEMORY_LIMIT=.*e\.g\. '3GB'"):
        load_settings({"LTV_MEMORY_LIMIT": value})


def test_warehouse_connection_applies_the_limit(tmp_path: Path) -> None:
    with connect(tmp_path / "ltv.duckdb", memory_limit="512MB") as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    # DuckDB reports the limit in binary units, rounded.
    assert limit == "488.2 MiB"


def test_reporting_currency_is_an_iso_code_or_nothing() -> None:
    assert load_settings({"LTV_REPORTING_CURRENCY": ""}).reporting_currency == ""
    settings = load_settings({"LTV_REPORTING_CURRENCY": " eur "})
    assert settings.reporting_currency == "EUR"
    assert settings.dbt_vars()["reporting_currency"] == "EUR"
    with pytest.raises(SettingsError, match=r"LTV_REPORTING_CURRENCY='euro'.*ISO 4217"):
        load_settings({"LTV_REPORTING_CURRENCY": "euro"})


def test_engine_defaults_to_duckdb_with_the_vars_of_a_duckdb_project() -> None:
    settings = load_settings({"LTV_ENGINE": "", "LTV_WAREHOUSE": "w/ltv.duckdb"})
    assert (settings.engine, settings.postgres) == ("duckdb", None)
    assert settings.warehouse.name == "ltv.duckdb"
    assert "ltv_engine" not in settings.dbt_vars()
    assert settings.dbt_vars()["ltv_warehouse"] == str(settings.warehouse)


def test_postgres_engine_reads_the_warehouse_as_a_url_and_hands_it_to_dbt() -> None:
    settings = load_settings(
        {
            "LTV_ENGINE": " Postgres ",
            "LTV_WAREHOUSE": "postgresql://ltv@db.example:6543/shop",
            "LTV_MARTS_SNAPSHOT": "/srv/ltv/marts.duckdb",
        }
    )
    assert settings.engine == "postgres"
    # The loads validate into a DuckDB file beside the snapshot, never one shared with another
    # deployment's default.
    assert settings.warehouse == Path("/srv/ltv/ltv.duckdb")
    assert settings.postgres is not None
    assert settings.postgres.url == "postgresql://ltv@db.example:6543/shop"
    dbt_vars = settings.dbt_vars()
    assert dbt_vars["ltv_engine"] == "postgres"
    assert (dbt_vars["ltv_postgres_host"], dbt_vars["ltv_postgres_port"]) == ("db.example", 6543)
    assert (dbt_vars["ltv_postgres_user"], dbt_vars["ltv_postgres_database"]) == ("ltv", "shop")
    default_port = load_settings({"LTV_ENGINE": "postgres", "LTV_WAREHOUSE": "postgres://u@h/d"})
    assert default_port.postgres is not None and default_port.postgres.port == 5432


def test_spark_engine_keeps_its_tables_under_a_storage_path_and_hands_it_to_dbt() -> None:
    settings = load_settings(
        {
            "LTV_ENGINE": "Spark",
            "LTV_WAREHOUSE": "/data/ltv-spark",
            "LTV_MARTS_SNAPSHOT": "/srv/marts.duckdb",
            "LTV_MEMORY_LIMIT": "1.5GB",
        }
    )
    assert settings.engine == "spark" and settings.postgres is None
    assert settings.spark == SparkWarehouse(Path("/data/ltv-spark"), "local[2]")
    assert settings.warehouse == Path("/srv/ltv.duckdb")  # where the loads validate
    dbt_vars = settings.dbt_vars()
    assert dbt_vars["ltv_engine"] == "spark"
    assert dbt_vars["ltv_spark_storage"] == "/data/ltv-spark"
    assert dbt_vars["ltv_spark_master"] == "local[2]"
    assert dbt_vars["ltv_spark_driver_memory"] == "1536m"
    cluster = load_settings({"LTV_ENGINE": "spark", "LTV_SPARK_MASTER": "spark://head:7077"})
    assert cluster.spark is not None and cluster.spark.master == "spark://head:7077"
    assert cluster.spark.storage == PROJECT_ROOT / "warehouse" / "spark"
    accounts = load_settings(
        {"LTV_ENGINE": "spark", "LTV_ACCOUNTS": "acme,beta", "THRIVECART_SECRET": "word"}
    )
    beta = accounts.for_account("beta")
    assert beta.spark is not None and beta.spark.storage == PROJECT_ROOT / "warehouse/spark/beta"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LTV_ENGINE": "bigquery"}, r"LTV_ENGINE='bigquery'.*duckdb, postgres, spark"),
        ({"LTV_ENGINE": "postgres"}, r"LTV_WAREHOUSE=.*ltv\.duckdb.*not a PostgreSQL URL"),
        (
            {"LTV_ENGINE": "spark", "LTV_WAREHOUSE": "warehouse/ltv.duckdb"},
            "LTV_WAREHOUSE='warehouse/ltv.duckdb' is a file; with LTV_ENGINE=spark",
        ),
        ({"LTV_ENGINE": "postgres", "LTV_WAREHOUSE": "postgresql://h:5432/d"}, "user and host"),
        ({"LTV_ENGINE": "postgres", "LTV_WAREHOUSE": "postgresql://u@h:99999/d"}, "Port"),
        ({"LTV_ENGINE": "postgres", "LTV_WAREHOUSE": "postgresql://u@h/"}, "one database"),
        ({"LTV_ENGINE": "postgres", "LTV_WAREHOUSE": "postgresql://u:pw@h/d"}, "pgpass"),
    ],
)
def test_a_bad_engine_or_postgres_url_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_each_account_gets_its_own_folders_and_dbt_knows_whose_rows_they_are(
    tmp_path: Path,
) -> None:
    env = {
        "LTV_ACCOUNTS": " Acme, acme-eu ",
        "THRIVECART_SECRET": "acme:one,acme-eu:two",
        "LTV_LANDING_DIR": str(tmp_path / "landing"),
        "LTV_WAREHOUSE": str(tmp_path / "wh" / "ltv.duckdb"),
        "LTV_MARTS_SNAPSHOT": str(tmp_path / "out" / "marts.duckdb"),
        "LTV_ARCHIVE_DIR": str(tmp_path / "archive"),
    }
    settings = load_settings(env)
    assert settings.accounts == ("acme", "acme-eu")
    eu = settings.for_account("acme-eu")
    assert (eu.landing_dir, eu.webhooks_dir, eu.rejected_dir) == (
        tmp_path / "landing" / "acme-eu",
        tmp_path / "landing" / "acme-eu" / "webhooks",
        tmp_path / "landing" / "acme-eu" / "rejected",
    )
    assert eu.warehouse == tmp_path / "wh" / "acme-eu" / "ltv.duckdb"
    assert eu.marts_snapshot == tmp_path / "out" / "acme-eu" / "marts.duckdb"
    assert eu.archive_dir == tmp_path / "archive" / "acme-eu"
    assert eu.dagster_home == settings.dagster_home
    assert eu.dbt_vars()["ltv_account"] == "acme-eu"
    assert eu.for_account("acme-eu") is eu
    assert [p.account for p in settings.pipelines()] == ["acme", "acme-eu"]
    assert account_pipeline(settings, "ACME").warehouse == tmp_path / "wh" / "acme" / "ltv.duckdb"
    with pytest.raises(SettingsError, match="add --account \\(acme, acme-eu\\)"):
        account_pipeline(settings, None)
    with pytest.raises(SettingsError, match="'other' is not in LTV_ACCOUNTS"):
        settings.for_account("other")

    single = load_settings({k: v for k, v in env.items() if k != "LTV_ACCOUNTS"})
    assert single.pipelines() == [single]
    assert "ltv_account" not in single.dbt_vars()
    with pytest.raises(SettingsError, match="--account needs LTV_ACCOUNTS"):
        account_pipeline(single, "acme")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LTV_ACCOUNTS": "acme,acme"}, "names 'acme' twice"),
        ({"LTV_ACCOUNTS": "acme,acme.com"}, "'acme.com' is not a ThriveCart account"),
        (
            {"LTV_ACCOUNTS": "acme", "THRIVECART_SECRET": "acme:a,beta:b"},
            "secret for beta, which LTV_ACCOUNTS does not list",
        ),
        (
            {
                "LTV_ACCOUNTS": "acme",
                "LTV_ENGINE": "postgres",
                "LTV_WAREHOUSE": "postgresql://u@h/d",
            },
            "LTV_ACCOUNTS works with LTV_ENGINE=duckdb or spark only",
        ),
    ],
)
def test_accounts_that_cannot_be_kept_apart_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({"THRIVECART_SECRET": "word", **env})

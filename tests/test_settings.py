"""Settings that reach DuckDB and dbt: the memory limit and the reporting currency."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import DEFAULT_MEMORY_LIMIT, SettingsError, load_settings
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

"""The memory limit: one setting bounds DuckDB in the loaders and in dbt."""

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

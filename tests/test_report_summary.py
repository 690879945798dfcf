"""The markdown key numbers attached to the marts as Dagster metadata."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from test_report_fixture import build_fixture_marts

from pipeline.report.marts import ReportError
from pipeline.report.summary import summary_markdown

TABLE = [
    "Data as of 2025-06-30 10:00 UTC (the latest payment):",
    "",
    "| currency | customers | net revenue | LTV 30d | LTV 90d | LTV 365d |",
    "|---|---:|---:|---:|---:|---:|",
    "| EUR | 1 | 300.00 | 300.00 | 300.00 | n/a |",
    "| USD | 3 | 450.00 | 150.00 | 165.00 | n/a |",
    "",
]


@pytest.mark.parametrize("schema", ["marts", "main"])  # the warehouse's, the snapshot's
def test_summary_gives_key_numbers_per_currency(tmp_path: Path, schema: str) -> None:
    database = build_fixture_marts(tmp_path / "ltv.duckdb", schema)
    lines = summary_markdown(database, schema).splitlines()
    assert lines[: len(TABLE)] == TABLE
    assert lines[-1].startswith("LTV at day N: net revenue per customer within N days")


def test_as_of_comes_from_mart_metadata_when_the_marts_have_it(tmp_path: Path) -> None:
    database = build_fixture_marts(tmp_path / "ltv.duckdb")
    with duckdb.connect(str(database)) as con:
        con.execute(
            "CREATE TABLE marts.mart_metadata AS "
            "SELECT TIMESTAMP '2025-07-02 08:15' AS as_of, 'UTC' AS reporting_timezone"
        )
    first_line = summary_markdown(database).splitlines()[0]
    assert first_line == "Data as of 2025-07-02 08:15 UTC (the latest event from any source):"


def test_summary_of_empty_marts_says_so(tmp_path: Path) -> None:
    database = build_fixture_marts(tmp_path / "ltv.duckdb")
    with duckdb.connect(str(database)) as con:
        con.execute("DELETE FROM marts.revenue_daily; DELETE FROM marts.dim_customers")
    assert summary_markdown(database) == "No payments in the marts yet."


def test_summary_of_a_warehouse_without_marts_is_a_clear_error(tmp_path: Path) -> None:
    database = tmp_path / "ltv.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA marts")
    with pytest.raises(ReportError, match="lack fct_payments, dim_customers"):
        summary_markdown(database)
    with pytest.raises(ReportError, match=r"has no schema `staging`.*ltv run"):
        summary_markdown(database, "staging")

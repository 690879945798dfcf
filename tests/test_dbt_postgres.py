"""The same dbt project on PostgreSQL (LTV_ENGINE=postgres), checked against the generator's
truth.json to the cent as the DuckDB build is (tests/test_dbt_end_to_end.py), and against
DuckDB's own build of the same raw tables row for row, so the marts truth.json has no section
for (revenue_daily, source_reconciliation, every column of fct_payments) agree too.

The loaders validate the landing folder into DuckDB; the raw tables are copied into a
throwaway PostgreSQL database (tests/postgres_support.py) and dbt builds there. The exports and
half the webhook days come first, the other half after a build, so the second build on
PostgreSQL is an incremental one. PostgreSQL's marts are then copied into DuckDB with their
types, so the checks written for DuckDB read them unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest
from postgres_support import Cluster, copy_tables_to_duckdb
from test_dbt_support import (
    aggregate_mismatches,
    customer_mismatches,
    generate_and_replay,
    load_landing,
    marts_differences,
    run_dbt,
    settings_for,
    truth_section_mismatches,
)

from pipeline.engines.postgres_raw import copy_raw_schema
from pipeline.settings import Settings

# The exports on a New York clock, so every CSV-only payment's date depends on the conversion.
CLOCK = {"LTV_CSV_TIMEZONE": "America/New_York"}
BUILD = ("build", "--exclude", "resource_type:unit_test")


@dataclass(frozen=True)
class Builds:
    """One seller built on both engines: DuckDB's warehouse, PostgreSQL's marts copied into a
    DuckDB file, the settings of the PostgreSQL build and truth.json."""

    duckdb: Settings
    postgres: Settings
    postgres_marts: Path
    truth: dict[str, Any]

    def connect_postgres_marts(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.postgres_marts), read_only=True)


def _copy_raw(source: Settings, target: Settings) -> None:
    """DuckDB's raw tables into PostgreSQL, in one transaction."""
    assert target.postgres is not None
    with (
        duckdb.connect(str(source.warehouse), read_only=True) as duck,
        closing(psycopg2.connect(**target.postgres.connect_kwargs())) as con,
        con,
        con.cursor() as cursor,
    ):
        copy_raw_schema(duck, cursor)


def _first_half(days: list[date]) -> list[list[date]]:
    return [days[: len(days) // 2]]


@pytest.fixture(scope="module")
def builds(postgres_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    root = tmp_path_factory.mktemp("postgres-seller")
    on_duckdb = settings_for(root, **CLOCK)
    truth = generate_and_replay(on_duckdb, customers=250, seed=21)
    warehouse = postgres_cluster.create_database("ltv")
    on_postgres = replace(
        settings_for(root, LTV_ENGINE="postgres", LTV_WAREHOUSE=warehouse.url, **CLOCK),
        warehouse=on_duckdb.warehouse,  # where the loaders validate, and dbt's target folder
    )

    load_landing(on_duckdb, webhook_days=_first_half)
    _copy_raw(on_duckdb, on_postgres)
    run_dbt(on_postgres, *BUILD)
    load_landing(on_duckdb)  # the other webhook days
    _copy_raw(on_duckdb, on_postgres)
    run_dbt(on_postgres, *BUILD)
    run_dbt(on_duckdb, *BUILD)

    marts = root / "postgres_marts.duckdb"
    with duckdb.connect(str(marts)) as con:
        copy_tables_to_duckdb(warehouse, con, "marts")
    yield Builds(on_duckdb, on_postgres, marts, truth)


def _report(problems: list[str]) -> str:
    return f"{len(problems)} mismatches, e.g.:\n" + "\n".join(problems[:20])


def test_the_second_postgres_build_was_incremental(builds: Builds) -> None:
    with builds.connect_postgres_marts() as con:
        rebuilt_all, orders = con.execute(
            "select rebuilt_all, recomputed_orders from marts.mart_metadata"
        ).fetchone()
    assert not rebuilt_all
    assert orders > 0


def test_every_customer_matches_truth(builds: Builds) -> None:
    assert len(builds.truth["customers"]) > 200
    with builds.connect_postgres_marts() as con:
        problems = customer_mismatches(con, builds.truth)
    assert not problems, _report(problems)


def test_totals_cohorts_day_n_and_as_of_match_truth(builds: Builds) -> None:
    with builds.connect_postgres_marts() as con:
        problems = aggregate_mismatches(con, builds.truth)
    assert not problems, _report(problems)


def test_repeat_purchase_and_subscription_marts_match_truth(builds: Builds) -> None:
    with builds.connect_postgres_marts() as con:
        problems = truth_section_mismatches(con, builds.truth)
    assert not problems, _report(problems)


def test_every_mart_equals_duckdbs_build_with_the_same_types(builds: Builds) -> None:
    with duckdb.connect() as con:
        con.execute(f"attach '{builds.postgres_marts}' as on_postgres (read_only)")
        con.execute(f"attach '{builds.duckdb.warehouse}' as on_duckdb (read_only)")
        assert marts_differences(con, "on_postgres", "on_duckdb") == {}
        types = """select table_name, column_name, data_type from duckdb_columns()
                   where database_name = ? and schema_name = 'marts'
                   order by table_name, column_index"""
        on_postgres = con.execute(types, ["on_postgres"]).fetchall()
        on_duckdb = con.execute(types, ["on_duckdb"]).fetchall()
        payments = con.execute("select count(*) from on_postgres.marts.fct_payments").fetchone()
    assert on_postgres == on_duckdb
    assert payments[0] > 800


def test_unit_tests_pass_on_postgres(builds: Builds) -> None:
    """They read their inputs' column types from the built relations, so they run last."""
    results = run_dbt(builds.postgres, "test", "--select", "resource_type:unit_test")
    outcome = {r.node.name: str(r.status) for r in results if r.node.resource_type == "unit_test"}
    assert len(outcome) > 30
    assert set(outcome.values()) == {"pass"}, outcome

"""The same dbt project on PostgreSQL (LTV_ENGINE=postgres), checked against the generator's
truth.json to the cent as the DuckDB build is (tests/test_dbt_end_to_end.py), and against
DuckDB's own build of the same raw tables row for row, so the marts truth.json has no section
for (revenue_daily, source_reconciliation, every column of fct_payments) agree too.

The loaders validate the landing folder into DuckDB; the raw tables are copied into a
throwaway PostgreSQL database (tests/postgres_support.py) and dbt builds there. The exports and
half the webhook days come first, the other half after a build, so the second build on
PostgreSQL is an incremental one. PostgreSQL's marts are then copied into DuckDB with their
types, so the checks written for DuckDB read them unchanged, and the dbt unit tests run there.
Where PostgreSQL is not installed or does not start, the tests skip saying why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from postgres_support import Cluster, PostgresUnavailable, throwaway_cluster
from test_dbt_samples import SAMPLES_BUILD, build_seller_with_samples
from test_dbt_support import (
    BUILD,
    NEW_YORK_CLOCK,
    built_once,
    compare_with_duckdb,
    dbt_target,
    generate_and_replay,
    load_landing,
    marts_differences,
    mismatch_report,
    run_dbt,
    settings_for,
    truth_mismatches,
)

from pipeline.dbt_docs import read_catalog
from pipeline.demo import load_truth
from pipeline.engines.postgres_marts import BUILD_SCHEMA, mirror_into_duckdb
from pipeline.engines.postgres_raw import copy_raw_schema, postgres_transaction
from pipeline.settings import PostgresWarehouse, Settings

# Files of the build folder: why PostgreSQL could not run, and the unit tests' outcome.
UNAVAILABLE = "postgres-unavailable.txt"
UNIT_TEST_RESULTS = "postgres-unit-tests.json"
POSTGRES_MARTS = "postgres_marts.duckdb"
# The docs page's catalog of the PostgreSQL build, as dbt writes it and as the pipeline reads it.
CATALOGS = "postgres-catalogs.json"


@dataclass(frozen=True)
class Builds:
    """One seller built on both engines: DuckDB's warehouse, PostgreSQL's marts copied into a
    DuckDB file, the unit tests' outcome on PostgreSQL, truth.json, and the docs catalogs of
    the PostgreSQL build (dbt's and the pipeline's)."""

    duckdb: Settings
    postgres_marts: Path
    unit_tests: dict[str, str]
    truth: dict[str, Any]
    catalogs: dict[str, Any]

    def connect_postgres_marts(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.postgres_marts), read_only=True)


def _copy_raw(source: Settings, target: Settings) -> None:
    """DuckDB's raw tables into PostgreSQL, in one transaction."""
    assert target.postgres is not None
    with (
        duckdb.connect(str(source.warehouse), read_only=True) as duck,
        postgres_transaction(target.postgres) as cursor,
    ):
        copy_raw_schema(duck, cursor)


def _copy_marts(source: PostgresWarehouse, target: Path) -> None:
    """PostgreSQL's marts as dbt built them into a DuckDB file, as publishing copies them."""
    with duckdb.connect(str(target)) as duck, postgres_transaction(source) as cursor:
        mirror_into_duckdb(cursor, duck, source=BUILD_SCHEMA)


def _first_half(days: list[date]) -> list[list[date]]:
    return [days[: len(days) // 2]]


def _build_on(cluster: Cluster, root: Path) -> None:
    """The seller loaded in two steps and built on PostgreSQL after each, then on DuckDB."""
    on_duckdb = settings_for(root, **NEW_YORK_CLOCK)
    generate_and_replay(on_duckdb, customers=250, seed=21)
    warehouse = cluster.create_database("ltv")
    on_postgres = replace(
        settings_for(root, LTV_ENGINE="postgres", LTV_WAREHOUSE=warehouse.url, **NEW_YORK_CLOCK),
        warehouse=on_duckdb.warehouse,  # where the loaders validate, and dbt's target folder
    )

    load_landing(on_duckdb, webhook_days=_first_half)
    _copy_raw(on_duckdb, on_postgres)
    run_dbt(on_postgres, *BUILD)
    load_landing(on_duckdb)  # the other webhook days
    _copy_raw(on_duckdb, on_postgres)
    run_dbt(on_postgres, *BUILD)
    run_dbt(on_duckdb, *BUILD)

    _copy_marts(warehouse, root / POSTGRES_MARTS)
    _compare_catalogs(on_postgres, root)
    # They read their inputs' column types from the built relations, so they run last.
    results = run_dbt(on_postgres, "test", "--select", "resource_type:unit_test")
    outcome = {r.node.name: str(r.status) for r in results if r.node.resource_type == "unit_test"}
    (root / UNIT_TEST_RESULTS).write_text(json.dumps(outcome))


def _compare_catalogs(on_postgres: Settings, root: Path) -> None:
    """dbt's catalog.json of the PostgreSQL build and the one the docs page embeds, in a file."""
    run_dbt(on_postgres, "docs", "generate")
    theirs = json.loads((dbt_target(on_postgres, "docs") / "catalog.json").read_text())
    manifest = json.loads((dbt_target(on_postgres, "build") / "manifest.json").read_text())
    ours = read_catalog(on_postgres, manifest)
    pick = ("nodes", "sources", "errors")
    catalogs = {"dbt": {k: theirs[k] for k in pick}, "ours": {k: ours[k] for k in pick}}
    (root / CATALOGS).write_text(json.dumps(catalogs))


def _with_cluster(root: Path, build: Callable[[Cluster], None]) -> None:
    """`build` on a throwaway cluster that lives only while it runs, so a built_once folder
    holds everything the checks read and the build runs once for all xdist workers; why
    PostgreSQL could not run, instead, when it cannot."""
    try:
        with throwaway_cluster() as cluster:
            build(cluster)
    except PostgresUnavailable as exc:
        (root / UNAVAILABLE).write_text(str(exc))


def _skip_if_unavailable(root: Path) -> None:
    if (root / UNAVAILABLE).exists():
        pytest.skip(f"PostgreSQL unavailable: {(root / UNAVAILABLE).read_text()}")


def _build(root: Path) -> None:
    _with_cluster(root, lambda cluster: _build_on(cluster, root))


def _build_samples_on(cluster: Cluster, samples: Settings, root: Path) -> None:
    """The raw tables of test_dbt_samples' seller, with the recorded ThriveCart deliveries in
    every format, built on PostgreSQL, the marts copied back into DuckDB."""
    warehouse = cluster.create_database("ltv")  # the parsed manifest's database (run_dbt)
    on_postgres = replace(
        settings_for(
            samples.landing_dir.parent, LTV_ENGINE="postgres", LTV_WAREHOUSE=warehouse.url
        ),
        warehouse=root / "samples" / "ltv.duckdb",  # only dbt's target folder, beside it
    )
    _copy_raw(samples, on_postgres)
    run_dbt(on_postgres, *BUILD)
    _copy_marts(warehouse, root / POSTGRES_MARTS)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    with built_once(tmp_path_factory, "dbt-postgres-seller", _build) as root:
        _skip_if_unavailable(root)
        settings = settings_for(root, **NEW_YORK_CLOCK)
        yield Builds(
            settings,
            root / POSTGRES_MARTS,
            json.loads((root / UNIT_TEST_RESULTS).read_text()),
            load_truth(settings.landing_dir),
            json.loads((root / CATALOGS).read_text()),
        )


def test_the_second_postgres_build_was_incremental(builds: Builds) -> None:
    with builds.connect_postgres_marts() as con:
        rebuilt_all, orders = con.execute(
            "select rebuilt_all, recomputed_orders from marts.mart_metadata"
        ).fetchone()
    assert not rebuilt_all
    assert orders > 0


def test_every_customer_cohort_day_n_and_mart_matches_truth(builds: Builds) -> None:
    assert len(builds.truth["customers"]) > 200
    with builds.connect_postgres_marts() as con:
        problems = truth_mismatches(con, builds.truth)
    assert not problems, mismatch_report(problems)


def test_every_mart_equals_duckdbs_build_with_the_same_types(builds: Builds) -> None:
    comparison = compare_with_duckdb(builds.postgres_marts, builds.duckdb.warehouse)
    assert comparison.differences == {}
    assert comparison.types == comparison.duckdb_types
    assert comparison.payments > 800


def test_the_docs_catalog_is_the_one_dbt_docs_generate_writes(builds: Builds) -> None:
    dbt, ours = builds.catalogs["dbt"], builds.catalogs["ours"]
    assert len(dbt["nodes"]) > 50 and len(dbt["sources"]) == 7
    assert ours == dbt


def test_unit_tests_pass_on_postgres(builds: Builds) -> None:
    assert len(builds.unit_tests) > 30
    assert set(builds.unit_tests.values()) == {"pass"}, builds.unit_tests


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Path]]:
    """test_dbt_samples' seller (built once for the session) and its marts built on
    PostgreSQL from the same raw tables."""
    with built_once(tmp_path_factory, SAMPLES_BUILD, build_seller_with_samples) as samples_root:
        on_duckdb = settings_for(samples_root)

        def build(root: Path) -> None:
            _with_cluster(root, lambda cluster: _build_samples_on(cluster, on_duckdb, root))

        with built_once(tmp_path_factory, "dbt-postgres-samples", build) as root:
            _skip_if_unavailable(root)
            yield on_duckdb, root / POSTGRES_MARTS


def test_recorded_deliveries_build_the_same_marts_on_postgres(
    samples: tuple[Settings, Path],
) -> None:
    """The deliveries as ThriveCart sends them (JSON and form-encoded, every event kind) read
    alike from jsonb and from DuckDB's JSON."""
    on_duckdb, postgres_marts = samples
    with duckdb.connect() as con:
        con.execute(f"attach '{postgres_marts}' as on_postgres (read_only)")
        con.execute(f"attach '{on_duckdb.warehouse}' as on_duckdb (read_only)")
        assert marts_differences(con, "on_postgres", "on_duckdb") == {}
        events, formats = con.execute(
            "select count(*), count(distinct format) from on_duckdb.raw.thrivecart_webhook_events"
        ).fetchone()
    assert events > 50
    assert formats >= 2  # JSON and form-encoded bodies

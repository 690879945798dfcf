"""The same dbt project on Spark (LTV_ENGINE=spark), checked against the generator's truth.json
to the cent as the DuckDB build is (tests/test_dbt_end_to_end.py), and against DuckDB's own
build of the same raw tables row for row and type for type.

The loaders validate the landing folder into DuckDB; its raw tables are written as Parquet
where Spark's build reads them (pipeline/engines/spark.py) and dbt builds on a local Spark
(`local[2]`, dbt-spark's session mode). The exports and half the webhook days come first, the
other half after a build, so the second build replaces every table the first one wrote. The
marts are then read from Spark's Parquet files into DuckDB, as publishing reads them. Where
Java is not installed the tests skip saying why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from spark_support import run_dbt_on_spark, spark_unavailable, storage_of
from test_dbt_support import (
    BUILD,
    NEW_YORK_CLOCK,
    aggregate_mismatches,
    built_once,
    compare_with_duckdb,
    customer_mismatches,
    generate_and_replay,
    load_landing,
    mismatch_report,
    run_dbt,
    settings_for,
    truth_mismatches,
)

from pipeline.demo import load_truth
from pipeline.engines.spark import mirror_marts, sync_raw
from pipeline.settings import Settings

UNAVAILABLE = "spark-unavailable.txt"
SPARK_MARTS = "spark_marts.duckdb"


@dataclass(frozen=True)
class Builds:
    """One seller built on both engines: DuckDB's warehouse, Spark's marts read into a DuckDB
    file, and truth.json."""

    duckdb: Settings
    spark_marts: Path
    truth: dict[str, Any]

    def connect_spark_marts(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.spark_marts), read_only=True)


def _first_half(days: list[date]) -> list[list[date]]:
    return [days[: len(days) // 2]]


def _build(root: Path) -> None:
    """The seller loaded in two steps and built on Spark after each, then on DuckDB."""
    if reason := spark_unavailable():
        (root / UNAVAILABLE).write_text(reason)
        return
    on_duckdb = settings_for(root, **NEW_YORK_CLOCK)
    generate_and_replay(on_duckdb, customers=250, seed=21)
    on_spark = replace(
        settings_for(
            root, LTV_ENGINE="spark", LTV_WAREHOUSE=str(storage_of(root)), **NEW_YORK_CLOCK
        ),
        warehouse=on_duckdb.warehouse,  # where the loaders validate
    )
    load_landing(on_duckdb, webhook_days=_first_half)
    sync_raw(on_spark)
    run_dbt_on_spark(on_spark, "run")  # the models only: the data tests run with the second
    load_landing(on_duckdb)  # the other webhook days
    sync_raw(on_spark)
    run_dbt_on_spark(on_spark, *BUILD)
    run_dbt(on_duckdb, *BUILD)
    with duckdb.connect(str(root / SPARK_MARTS)) as con:
        mirror_marts(con, storage_of(root))


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    with built_once(tmp_path_factory, "dbt-spark-seller", _build) as root:
        if (root / UNAVAILABLE).exists():
            pytest.skip(f"Spark unavailable: {(root / UNAVAILABLE).read_text()}")
        settings = settings_for(root, **NEW_YORK_CLOCK)
        yield Builds(settings, root / SPARK_MARTS, load_truth(settings.landing_dir))


def test_every_customer_cohort_day_n_and_mart_matches_truth(builds: Builds) -> None:
    assert len(builds.truth["customers"]) > 200
    with builds.connect_spark_marts() as con:
        problems = truth_mismatches(con, builds.truth)
        # Named apart as well, so a failure says which kind of figure is off.
        assert customer_mismatches(con, builds.truth) == []
        assert aggregate_mismatches(con, builds.truth) == []
    assert not problems, mismatch_report(problems)


def test_every_mart_equals_duckdbs_build_with_the_same_types(builds: Builds) -> None:
    comparison = compare_with_duckdb(builds.spark_marts, builds.duckdb.warehouse)
    assert comparison.differences == {}
    assert comparison.types == comparison.duckdb_types
    assert comparison.payments > 800


def test_every_spark_build_computes_every_model_whole(builds: Builds) -> None:
    """Parquet tables take no DELETE: the second build rebuilt everything, and says so."""
    with builds.connect_spark_marts() as con:
        rebuilt_all, build_id = con.execute(
            "select rebuilt_all, build_id from marts.mart_metadata"
        ).fetchone()
    assert rebuilt_all
    assert build_id

"""When `ltv run` skips its build: only when nothing a build reads changed (no Dagster, no dbt).

A warehouse and snapshot are faked with the two things the rule reads: the load ledger and
`mart_metadata.build_id`. Every way the published marts could be out of date must rebuild.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipeline.report.build import default_report_path
from pipeline.run.unchanged import (
    forget_record,
    inputs_fingerprint,
    record_build,
    unchanged_build,
)
from pipeline.settings import Settings
from pipeline.warehouse import ensure_raw_schema


def _with_build(path: Path, schema: str, build_id: str) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(f"create schema if not exists {schema}")
        con.execute(
            f"create or replace table {schema}.mart_metadata as select ? as build_id", [build_id]
        )


@pytest.fixture
def built(tmp_path: Path) -> Iterator[tuple[Settings, duckdb.DuckDBPyConnection]]:
    """A warehouse with one loaded file, built and published as build `b1` by `ltv run`."""
    settings = Settings(
        landing_dir=tmp_path / "landing",
        warehouse=tmp_path / "wh" / "ltv.duckdb",
        marts_snapshot=tmp_path / "wh" / "marts.duckdb",
        dagster_home=tmp_path / "dh",
    )
    settings.warehouse.parent.mkdir()
    _with_build(settings.warehouse, "marts", "b1")
    _with_build(settings.marts_snapshot, "main", "b1")
    default_report_path(settings).write_text("<html></html>")
    con = duckdb.connect(str(settings.warehouse))
    ensure_raw_schema(con)
    con.execute(
        "insert into raw.landing_files (sha256, path, export, rows, loaded_at) "
        "values ('abc', 'orders/a.csv', 'transactions', 3, timestamp '2026-01-02 03:04:05')"
    )
    record_build(settings, inputs_fingerprint(con, settings))
    yield settings, con
    con.close()


def test_nothing_changed_keeps_the_published_build(built) -> None:
    settings, con = built
    assert unchanged_build(con, settings, inputs_fingerprint(con, settings)) == "b1"


def test_a_file_loaded_again_rebuilds(built) -> None:
    settings, con = built
    con.execute("update raw.landing_files set loaded_at = loaded_at + interval 1 second")
    assert unchanged_build(con, settings, inputs_fingerprint(con, settings)) is None


def test_a_changed_setting_rebuilds(built) -> None:
    settings, con = built
    other = dataclasses.replace(settings, day_n=(0, 30))
    assert unchanged_build(con, other, inputs_fingerprint(con, other)) is None


def test_another_build_in_the_warehouse_rebuilds(built) -> None:
    """The Dagster daemon built since: its marts may hold data this run's ledger lacks."""
    settings, con = built
    con.execute("update marts.mart_metadata set build_id = 'b2'")
    assert unchanged_build(con, settings, inputs_fingerprint(con, settings)) is None


@pytest.mark.parametrize("gone", ["snapshot", "report", "record"])
def test_a_missing_snapshot_report_or_record_rebuilds(built, gone: str) -> None:
    settings, con = built
    if gone == "record":
        forget_record(settings)
    else:
        path = settings.marts_snapshot if gone == "snapshot" else default_report_path(settings)
        path.unlink()
    assert unchanged_build(con, settings, inputs_fingerprint(con, settings)) is None

"""Undoing a drop: a loaded export removed from the landing folder (or named to `ltv forget`)
leaves raw; a renamed or archived one keeps its rows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner
from test_ingest_assets import execute, run_sensor
from test_ltv_run_guards import write_transactions

from pipeline.cli import main
from pipeline.defs.pipeline_defs import pipeline_defs
from pipeline.defs.resources import pipeline_resources
from pipeline.defs.scope import SINGLE
from pipeline.ingest.csv_load import ExportFile, load_export
from pipeline.ingest.forget import Forgotten, forget_gone
from pipeline.ingest.headers import TRANSACTIONS
from pipeline.ingest.landing import file_sha256
from pipeline.settings import Settings
from pipeline.warehouse import connect, ensure_raw_schema

LOADED_AT = datetime(2026, 11, 28, 12, 0, 0)
PIPELINE = pipeline_defs(SINGLE)
landing_files_sensor = PIPELINE.landing_files_sensor
landing_removals_sensor = PIPELINE.landing_removals_sensor


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    (tmp_path / "landing" / "orders").mkdir(parents=True)
    return tmp_path / "landing"


def drop_and_load(con: duckdb.DuckDBPyConnection, landing: Path, name: str, rows: int) -> str:
    """Write a Transactions export of `rows` rows plus one with a bad date, and load it."""
    path = landing / "orders" / name
    write_transactions(path, rows + 1)
    path.write_text(path.read_text().replace(f"2025-03-0{rows + 1}", "2025-13-45"))
    load_export(con, ExportFile(path, f"orders/{name}", file_sha256(path)), TRANSACTIONS, LOADED_AT)
    return file_sha256(path)


def counts(con: duckdb.DuckDBPyConnection, sha256: str) -> tuple[int, int, int]:
    """(raw rows, rejected rows, ledger rows) of one content."""
    return con.execute(
        "SELECT (SELECT count(*) FROM raw.thrivecart_transactions WHERE _file_sha256 = $1), "
        "(SELECT count(*) FROM raw.rejected_rows WHERE file_sha256 = $1), "
        "(SELECT count(*) FROM raw.landing_files WHERE sha256 = $1)",
        [sha256],
    ).fetchone()


def test_a_removed_file_leaves_raw_and_the_others_stay(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    bad = drop_and_load(con, landing, "bad.csv", rows=3)
    good = drop_and_load(con, landing, "good.csv", rows=2)
    assert counts(con, bad) == (3, 1, 1)
    (landing / "orders" / "bad.csv").unlink()

    assert forget_gone(con, landing) == [Forgotten(bad, "orders/bad.csv", TRANSACTIONS, 3)]
    assert counts(con, bad) == (0, 0, 0)
    assert counts(con, good) == (2, 1, 1)
    assert forget_gone(con, landing) == []


def test_a_renamed_file_keeps_its_rows_and_the_ledger_follows(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    sha = drop_and_load(con, landing, "export.csv", rows=2)
    (landing / "later").mkdir()
    (landing / "orders" / "export.csv").rename(landing / "later" / "renamed.csv")

    assert forget_gone(con, landing) == []
    assert counts(con, sha)[0] == 2
    assert con.execute("SELECT path FROM raw.landing_files").fetchall() == [("later/renamed.csv",)]


def test_an_archived_file_stays_loaded_until_its_archived_copy_goes(
    con: duckdb.DuckDBPyConnection, landing: Path, tmp_path: Path
) -> None:
    sha = drop_and_load(con, landing, "export.csv", rows=2)
    archived = tmp_path / "archive" / "export.csv"
    archived.parent.mkdir()
    (landing / "orders" / "export.csv").rename(archived)
    con.execute("UPDATE raw.landing_files SET archived_to = ?", [str(archived)])

    assert forget_gone(con, landing) == []
    archived.unlink()
    assert [f.sha256 for f in forget_gone(con, landing)] == [sha]


def test_ltv_forget_moves_the_file_aside_and_removes_its_rows(
    pipeline_settings: Settings,
) -> None:
    landing = pipeline_settings.landing_dir
    with connect(pipeline_settings.warehouse) as con:
        ensure_raw_schema(con)
        sha = drop_and_load(con, landing, "export.csv", rows=2)

    listed = CliRunner().invoke(main, ["forget", "--list"])
    unknown = CliRunner().invoke(main, ["forget", "orders/other.csv"])
    done = CliRunner().invoke(main, ["forget", sha[:10]])

    assert listed.exit_code == 0 and f"{sha[:12]}" in listed.output
    assert "orders/export.csv" in listed.output and "1 loaded file(s)" in listed.output
    assert unknown.exit_code == 2 and "'orders/other.csv' is not a loaded file" in unknown.output
    assert done.exit_code == 0, done.output
    assert "forgotten: orders/export.csv (2 rows removed from raw)" in done.output
    assert not (landing / "orders" / "export.csv").exists()
    note = (pipeline_settings.rejected_dir / "export.csv.error.txt").read_text()
    assert "forgotten on request" in note
    with duckdb.connect(str(pipeline_settings.warehouse), read_only=True) as con:
        assert counts(con, sha) == (0, 0, 0)


def test_the_sensor_forgets_a_file_removed_while_the_stack_runs(
    ephemeral_instance: dg.DagsterInstance, pipeline_settings: Settings, settle
) -> None:
    landing = pipeline_settings.landing_dir
    write_transactions(landing / "orders" / "export.csv", rows=2)
    settle(landing)
    (request,) = run_sensor(landing_files_sensor, ephemeral_instance, pipeline_settings)
    assert execute(ephemeral_instance, request, pipeline_settings).success
    context = dg.build_sensor_context(
        instance=ephemeral_instance, resources={"settings": pipeline_settings}
    )
    assert landing_removals_sensor(context).run_requests == []

    (landing / "orders" / "export.csv").unlink()
    (forget,) = landing_removals_sensor(context).run_requests
    resources = dg.Definitions(resources=pipeline_resources(pipeline_settings))
    job = dg.Definitions.merge(PIPELINE.ingest_definitions(), resources).resolve_job_def(
        "forget_landing_files"
    )
    result = job.execute_in_process(instance=ephemeral_instance)

    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert (metadata["file"].value, metadata["rows_removed"].value) == ("orders/export.csv", 2)
    partitions = PIPELINE.ingest.partitions[TRANSACTIONS].name
    assert ephemeral_instance.get_dynamic_partitions(partitions) == []
    with duckdb.connect(str(pipeline_settings.warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.thrivecart_transactions").fetchone() == (0,)
    assert forget.run_key and landing_removals_sensor(context).run_requests == []


def test_ltv_run_forgets_a_deleted_file_and_the_marts_leave_it_out(
    pipeline_settings: Settings, settle
) -> None:
    landing = pipeline_settings.landing_dir
    write_transactions(landing / "orders" / "keep.csv", rows=2)
    (landing / "orders" / "drop.csv").write_text(
        (landing / "orders" / "keep.csv").read_text().replace("ann", "bob").replace(",70", ",80")
    )
    settle(landing)
    first = CliRunner().invoke(main, ["run"])
    assert "files loaded: 2 (4 rows)" in first.output and "payments: 4" in first.output

    (landing / "orders" / "drop.csv").unlink()
    second = CliRunner().invoke(main, ["run"])

    assert second.exit_code == 0, second.output
    assert "files forgotten (gone from the landing folder): 1" in second.output
    assert "  - orders/drop.csv (2 rows removed from raw)" in second.output
    assert "payments: 2  customers: 2" in second.output

"""The analysts' snapshot: every mart copied, atomically replaced, never blocked by readers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from test_report_fixture import ROW_COUNTS, build_fixture_marts

from pipeline import publish
from pipeline.publish import PublishError, parquet_link, publish_snapshot
from pipeline.settings import Settings

# Another process holding a DuckDB file open (an analyst's notebook, or a pipeline writer):
# it answers each SQL line on stdin with the rows as one JSON line.
HOLDER = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("open", flush=True)
for sql in sys.stdin:
    print(json.dumps(con.execute(sql).fetchall(), default=str), flush=True)
"""


@contextmanager
def holder(database: Path, read_only: bool) -> Iterator[subprocess.Popen[str]]:
    """Run a process that keeps `database` open until the block ends; check it exits cleanly."""
    mode = "ro" if read_only else "rw"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline() == "open\n"
        yield proc
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0


def ask(proc: subprocess.Popen[str], sql: str) -> list[list[object]]:
    proc.stdin.write(sql + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    warehouse = build_fixture_marts(tmp_path / "warehouse" / "ltv.duckdb")
    return Settings(
        landing_dir=tmp_path / "landing",
        warehouse=warehouse,
        marts_snapshot=tmp_path / "published" / "marts.duckdb",
        dagster_home=tmp_path / "dagster",
    )


def add_payment(warehouse: Path) -> None:
    """A new build: one more USD payment, in fct_payments and in revenue_daily."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            """INSERT INTO marts.fct_payments (payment_id, customer_id, payment_type, paid_at,
                 paid_date, amount, currency, source)
               VALUES ('p8', 'c_bob', 'charge', '2025-07-01 09:00', '2025-07-01', 60.00, 'USD',
                 'webhook');
               INSERT INTO marts.revenue_daily VALUES
                 ('USD', '2025-07-01', 60.00, 0.00, 60.00, 1, 0, 0, 0);"""
        )


def test_publish_copies_every_mart_to_the_snapshot_and_parquet(settings: Settings) -> None:
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(
            """CREATE TABLE marts.new_mart AS SELECT 42 AS answer;
               CREATE VIEW marts.usd_payments AS
                 SELECT * FROM marts.fct_payments WHERE currency = 'USD';
               CREATE SCHEMA intermediate; CREATE TABLE intermediate.not_a_mart AS SELECT 1;
               COMMENT ON TABLE marts.fct_payments IS 'One row per payment';
               COMMENT ON COLUMN marts.fct_payments.amount IS 'Signed, tax included';"""
        )

    result = publish_snapshot(settings)

    expected = {**ROW_COUNTS, "new_mart": 1, "usd_payments": 6}
    assert result.tables == expected
    assert result.rows == sum(expected.values())
    assert result.snapshot == settings.marts_snapshot
    with duckdb.connect(str(result.snapshot), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 2"
        ).fetchall()
        assert tables == [("main", name) for name in sorted(expected)]
        # `marts.<table>` names the catalog of the default file name, as analysts expect.
        totals = con.execute(
            "SELECT currency, sum(amount) FROM marts.fct_payments GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert totals == [("EUR", Decimal("300.00")), ("USD", Decimal("450.00"))]
        assert con.execute(
            "SELECT comment FROM duckdb_columns() WHERE column_name = 'amount' "
            "AND table_name = 'fct_payments'"
        ).fetchall() == [("Signed, tax included",)]
        assert con.execute(
            "SELECT comment FROM duckdb_tables() WHERE table_name = 'fct_payments'"
        ).fetchall() == [("One row per payment",)]
    for table, path in result.parquet_files.items():
        assert path.parent == settings.marts_snapshot.parent / "marts_parquet"
        count = duckdb.execute(f"SELECT count(*) FROM '{path}'").fetchone()[0]
        assert count == expected[table], table
    assert oct(result.snapshot.stat().st_mode & 0o777) == "0o444"


def test_reader_holding_the_snapshot_neither_blocks_nor_sees_a_new_publish(
    settings: Settings,
) -> None:
    publish_snapshot(settings)
    old = [[7, "450.00"]]
    query = (
        "SELECT (SELECT count(*) FROM fct_payments), "
        "(SELECT sum(net_revenue)::VARCHAR FROM revenue_daily WHERE currency = 'USD')"
    )
    with holder(settings.marts_snapshot, read_only=True) as reader:
        assert ask(reader, query) == old
        add_payment(settings.warehouse)

        result = publish_snapshot(settings)

        assert result.tables["fct_payments"] == 8
        assert ask(reader, query) == old  # the reader's file is the old, complete snapshot
        with duckdb.connect(str(settings.marts_snapshot), read_only=True) as fresh:
            assert fresh.execute(query).fetchall() == [(8, "510.00")]
    parquet = result.parquet_files["fct_payments"]
    assert duckdb.execute(f"SELECT count(*) FROM '{parquet}'").fetchone()[0] == 8


def test_parquet_versions_are_swapped_and_pruned(settings: Settings) -> None:
    for _ in range(3):
        result = publish_snapshot(settings)
    link = parquet_link(settings.marts_snapshot)
    versions = sorted((link.parent / ".marts_parquet.versions").iterdir())
    assert link.is_symlink() and link.resolve() == versions[-1]
    assert len(versions) == publish.KEEP_PARQUET_VERSIONS
    assert sorted(p.name for p in result.parquet_dir.iterdir()) == sorted(
        f"{t}.parquet" for t in ROW_COUNTS
    )
    leftovers = [p.name for p in link.parent.iterdir() if p.name.endswith((".tmp", ".link"))]
    assert leftovers == []


def _build_with_forecast(warehouse: Path, build_id: str, predicted: str) -> None:
    """A build `build_id` whose forecast mart says `predicted` for every customer."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            f"""CREATE OR REPLACE TABLE marts.mart_metadata AS SELECT '{build_id}' AS build_id;
                CREATE OR REPLACE TABLE marts.customer_ltv_forecast AS
                  SELECT DISTINCT customer_id, {predicted}::DECIMAL(18, 2) AS predicted_ltv
                  FROM marts.fct_payments"""
        )


def _forecast(snapshot: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return con.execute("SELECT DISTINCT predicted_ltv FROM customer_ltv_forecast").fetchall()


def test_refreshing_the_forecast_keeps_every_other_mart_of_the_build(settings: Settings) -> None:
    _build_with_forecast(settings.warehouse, "build-1", "100")
    first = publish_snapshot(settings)
    first_files = {t: os.stat(path).st_ino for t, path in first.parquet_files.items()}
    # The same build's forecast is refitted; fct_payments changes too, which a refresh of the
    # forecast alone must not pick up: it copies only the tables it names.
    _build_with_forecast(settings.warehouse, "build-1", "250")
    add_payment(settings.warehouse)

    refreshed = publish_snapshot(settings, refresh=["customer_ltv_forecast"])

    assert refreshed.patched
    assert _forecast(settings.marts_snapshot) == [(Decimal("250.00"),)]
    assert refreshed.tables["fct_payments"] == first.tables["fct_payments"] == 7
    files = {t: os.stat(path).st_ino for t, path in refreshed.parquet_files.items()}
    assert files["fct_payments"] == first_files["fct_payments"]  # linked, not written again
    assert files["customer_ltv_forecast"] != first_files["customer_ltv_forecast"]
    forecast = refreshed.parquet_files["customer_ltv_forecast"]
    forecast_rows = duckdb.execute(f"SELECT DISTINCT predicted_ltv FROM '{forecast}'")
    assert forecast_rows.fetchall() == [(Decimal("250.00"),)]


def test_a_refresh_after_another_build_copies_everything(settings: Settings) -> None:
    _build_with_forecast(settings.warehouse, "build-1", "100")
    publish_snapshot(settings)
    _build_with_forecast(settings.warehouse, "build-2", "250")
    add_payment(settings.warehouse)

    refreshed = publish_snapshot(settings, refresh=["customer_ltv_forecast"])

    assert not refreshed.patched
    assert refreshed.tables["fct_payments"] == 8
    assert _forecast(settings.marts_snapshot) == [(Decimal("250.00"),)]


def test_a_failed_publish_keeps_the_previous_snapshot(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_snapshot(settings)
    add_payment(settings.warehouse)
    before = sorted(p.name for p in settings.marts_snapshot.parent.rglob("*"))

    def disk_full(*args: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(publish, "_replace_snapshot", disk_full)
    with pytest.raises(OSError, match="No space"):
        publish_snapshot(settings)

    assert sorted(p.name for p in settings.marts_snapshot.parent.rglob("*")) == before
    with duckdb.connect(str(settings.marts_snapshot), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM fct_payments").fetchone()[0] == 7


def test_missing_warehouse_says_to_run_the_pipeline(settings: Settings) -> None:
    settings.warehouse.unlink()
    with pytest.raises(PublishError, match=r"No warehouse at .*Run `ltv run`"):
        publish_snapshot(settings)


def test_warehouse_without_marts_is_refused(settings: Settings) -> None:
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("DROP SCHEMA marts CASCADE; CREATE SCHEMA marts")
    with pytest.raises(PublishError, match=r"no tables in schema `marts`.*ltv run"):
        publish_snapshot(settings)
    assert not settings.marts_snapshot.exists()


def test_warehouse_held_by_a_writer_gives_a_clear_error(settings: Settings) -> None:
    with (
        holder(settings.warehouse, read_only=False),
        pytest.raises(PublishError, match="another process is writing it"),
    ):
        publish_snapshot(settings)


def test_a_warehouse_that_is_not_duckdb_is_named(settings: Settings) -> None:
    settings.warehouse.write_text("order_id,total\n1,10.00\n")
    with pytest.raises(PublishError, match="check that LTV_WAREHOUSE"):
        publish_snapshot(settings)


def test_snapshot_must_be_a_file_of_its_own(settings: Settings) -> None:
    with pytest.raises(PublishError, match="same file"):
        publish_snapshot(replace(settings, marts_snapshot=settings.warehouse))
    with pytest.raises(PublishError, match="is a folder"):
        publish_snapshot(replace(settings, marts_snapshot=settings.warehouse.parent))

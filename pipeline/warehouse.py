"""The DuckDB warehouse: opening it safely, and the raw schema the loaders write.

DuckDB lets one process write a database file at a time. Dagster's single-writer pool keeps
our own runs apart; :func:`connect` is the second line of defence for everything else (a dbt
run started by hand, `ltv run` beside the daemon): it waits for the lock instead of failing.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from pipeline.ingest.headers import SUBSCRIPTIONS_COLUMNS, TRANSACTIONS_COLUMNS
from pipeline.settings import DEFAULT_MEMORY_LIMIT

DEFAULT_LOCK_TIMEOUT_SECONDS = 300.0
_FIRST_RETRY_DELAY = 0.05
_MAX_RETRY_DELAY = 2.0

TRANSACTIONS_TABLE = "raw.thrivecart_transactions"
SUBSCRIPTIONS_TABLE = "raw.thrivecart_subscriptions"
WEBHOOK_EVENTS_TABLE = "raw.thrivecart_webhook_events"
REJECTED_ROWS_TABLE = "raw.rejected_rows"
LANDING_FILES_TABLE = "raw.landing_files"
WEBHOOK_SEGMENTS_TABLE = "raw.webhook_segments"


class WarehouseBusy(RuntimeError):
    """Another process kept the warehouse locked for longer than we were willing to wait."""


def connect(
    path: Path,
    *,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing, waiting (with backoff) while another process holds it.

    `memory_limit` bounds DuckDB's memory in this process (LTV_MEMORY_LIMIT); past it DuckDB
    spills to disk. Close the connection as soon as the work is done: holding it blocks every
    other process.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout
    delay = _FIRST_RETRY_DELAY
    while True:
        try:
            return duckdb.connect(str(path), config={"memory_limit": memory_limit})
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() + delay > deadline:
                raise WarehouseBusy(
                    f"{path} stayed locked by another process for {lock_timeout:.0f}s ({exc}). "
                    "Stop whatever else has the warehouse open (a DuckDB shell, a dbt run "
                    "started by hand) and run this again."
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY_DELAY)


def _lineage(extra_columns: str = "") -> str:
    return (
        f"{extra_columns}_extra JSON, _file_sha256 VARCHAR NOT NULL, _file_path VARCHAR, "
        "_row_number BIGINT, _loaded_at TIMESTAMP"
    )


def _text_columns(columns: tuple[str, ...]) -> str:
    return ", ".join(f'"{c}" VARCHAR' for c in columns)


RAW_DDL = (
    "CREATE SCHEMA IF NOT EXISTS raw",
    f"CREATE TABLE IF NOT EXISTS {TRANSACTIONS_TABLE} "
    f"({_text_columns(TRANSACTIONS_COLUMNS)}, {_lineage()})",
    f"CREATE TABLE IF NOT EXISTS {SUBSCRIPTIONS_TABLE} "
    f"({_text_columns(SUBSCRIPTIONS_COLUMNS)}, {_lineage('kind VARCHAR, ')})",
    f"""CREATE TABLE IF NOT EXISTS {WEBHOOK_EVENTS_TABLE} (
        delivery_id VARCHAR NOT NULL, received_at TIMESTAMP, account VARCHAR, event VARCHAR,
        mode VARCHAR, content_type VARCHAR, format VARCHAR, remote_addr VARCHAR,
        known_event BOOLEAN, schema_version INTEGER, payload JSON, _segment VARCHAR NOT NULL,
        _segment_day DATE NOT NULL, _byte_offset BIGINT, _loaded_at TIMESTAMP)""",
    f"""CREATE TABLE IF NOT EXISTS {REJECTED_ROWS_TABLE} (
        source VARCHAR NOT NULL, file_sha256 VARCHAR, line BIGINT, reason VARCHAR,
        raw_line VARCHAR, _loaded_at TIMESTAMP)""",
    # Bookkeeping for ingestion itself (not a dbt source): one row per loaded landing file.
    f"""CREATE TABLE IF NOT EXISTS {LANDING_FILES_TABLE} (
        sha256 VARCHAR NOT NULL, path VARCHAR, export VARCHAR, kind VARCHAR, bytes BIGINT,
        encoding VARCHAR, delimiter VARCHAR, rows BIGINT, rejected BIGINT,
        missing_columns VARCHAR[], extra_columns VARCHAR[], loaded_at TIMESTAMP,
        archived_to VARCHAR)""",
    # ... and one row per loaded webhook log segment: how far it was read.
    f"""CREATE TABLE IF NOT EXISTS {WEBHOOK_SEGMENTS_TABLE} (
        segment VARCHAR NOT NULL, day DATE NOT NULL, bytes BIGINT, events BIGINT,
        duplicates BIGINT, rejected BIGINT, loaded_at TIMESTAMP)""",
)


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and its tables if they do not exist yet (idempotent)."""
    for statement in RAW_DDL:
        con.execute(statement)

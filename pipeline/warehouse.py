"""The DuckDB warehouse: opening it safely, and the raw schema the loaders write.

DuckDB lets one process write a database file at a time. Dagster's single-writer pool keeps
our own runs apart; :func:`connect` is the second line of defence for everything else (a dbt
run started by hand, `ltv run` beside the daemon): it waits for the lock instead of failing.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from pipeline.ingest.headers import SUBSCRIPTIONS_COLUMNS, TRANSACTIONS_COLUMNS
from pipeline.settings import DEFAULT_MEMORY_LIMIT

DEFAULT_LOCK_TIMEOUT_SECONDS = 300.0
_FIRST_RETRY_DELAY = 0.05
_MAX_RETRY_DELAY = 2.0
_LOCK_HOLDER = re.compile(r"held in (.+?) \(PID (\d+)\)")
_log = logging.getLogger(__name__)

TRANSACTIONS_TABLE = "raw.thrivecart_transactions"
SUBSCRIPTIONS_TABLE = "raw.thrivecart_subscriptions"
WEBHOOK_EVENTS_TABLE = "raw.thrivecart_webhook_events"
REJECTED_ROWS_TABLE = "raw.rejected_rows"
LANDING_FILES_TABLE = "raw.landing_files"
WEBHOOK_SEGMENTS_TABLE = "raw.webhook_segments"
# Cost, ad spend and exchange-rate inputs (docs/costs.md): typed at load, they are small.
PROCESSOR_FEES_TABLE = "raw.processor_fees"
PRODUCT_COSTS_TABLE = "raw.product_costs"
AD_SPEND_TABLE = "raw.ad_spend"
FX_RATES_TABLE = "raw.fx_rates"


class WarehouseBusy(RuntimeError):
    """Another process kept the warehouse locked for longer than we were willing to wait."""


def lock_holder(error: Exception) -> str:
    """Who holds the lock, from DuckDB's message ("... held in /usr/bin/python3 (PID 42) ...")."""
    found = _LOCK_HOLDER.search(str(error))
    if not found:
        return "another process"
    return f"{Path(found.group(1)).name} (PID {found.group(2)})"


def waiting_message(path: Path, error: Exception, lock_timeout: float) -> str:
    """What a wait for the warehouse tells the user: who holds it and what to do."""
    return (
        f"waiting for the warehouse {path}: {lock_holder(error)} has it open. It waits up to "
        f"{lock_timeout:.0f} s. Only the pipeline should open this file; analysts read the "
        "snapshot (LTV_MARTS_SNAPSHOT, warehouse/marts.duckdb by default) instead."
    )


def connect(
    path: Path,
    *,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing, waiting (with backoff) while another process holds it.

    `memory_limit` bounds DuckDB's memory in this process (LTV_MEMORY_LIMIT); past it DuckDB
    spills to `<warehouse>.tmp`, as dbt does (profiles.yml). When the file is locked,
    `on_wait` (default: this module's logger) is told once who holds it. Close the connection
    as soon as the work is done: holding it blocks every other process.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout
    delay = _FIRST_RETRY_DELAY
    told = False
    while True:
        try:
            config = {"memory_limit": memory_limit, "temp_directory": f"{path}.tmp"}
            return duckdb.connect(str(path), config=config)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() + delay > deadline:
                raise WarehouseBusy(
                    f"{path} stayed open in {lock_holder(exc)} for {lock_timeout:.0f} s. Close "
                    "whatever else has the warehouse open (a DuckDB shell, a notebook, a dbt run "
                    "started by hand; analysts use the snapshot) and run this again."
                ) from exc
            if not told:
                (on_wait or _log.warning)(waiting_message(path, exc, lock_timeout))
                told = True
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
    # Inputs of docs/costs.md. `account`, `processor` and `channel` are lower case, `currency`
    # and `base` ISO 4217 upper case; '*' is "every" where docs/costs.md allows it.
    f"""CREATE TABLE IF NOT EXISTS {PROCESSOR_FEES_TABLE} (
        account VARCHAR NOT NULL, processor VARCHAR NOT NULL, currency VARCHAR NOT NULL,
        fee_percent DECIMAL(9, 4) NOT NULL, fee_fixed DECIMAL(18, 2) NOT NULL,
        valid_from DATE NOT NULL, {_lineage()})""",
    f"""CREATE TABLE IF NOT EXISTS {PRODUCT_COSTS_TABLE} (
        account VARCHAR NOT NULL, item_type VARCHAR NOT NULL, product_id VARCHAR NOT NULL,
        currency VARCHAR NOT NULL, cost_per_sale DECIMAL(18, 2) NOT NULL,
        valid_from DATE NOT NULL, {_lineage()})""",
    # `account` '' = the seller's only account; `campaign` '' = the channel as a whole.
    f"""CREATE TABLE IF NOT EXISTS {AD_SPEND_TABLE} (
        account VARCHAR NOT NULL, spend_date DATE NOT NULL, channel VARCHAR NOT NULL,
        campaign VARCHAR NOT NULL, currency VARCHAR NOT NULL, spend DECIMAL(18, 2) NOT NULL,
        format VARCHAR NOT NULL, {_lineage()})""",
    f"""CREATE TABLE IF NOT EXISTS {FX_RATES_TABLE} (
        rate_date DATE NOT NULL, base VARCHAR NOT NULL, currency VARCHAR NOT NULL,
        rate DECIMAL(18, 8) NOT NULL, format VARCHAR NOT NULL, {_lineage()})""",
    # What the load noticed (date order, decimal comma, skipped rows); added after the table.
    f"ALTER TABLE {LANDING_FILES_TABLE} ADD COLUMN IF NOT EXISTS notes VARCHAR[]",
    # ... and one row per loaded webhook log segment: how far it was read.
    f"""CREATE TABLE IF NOT EXISTS {WEBHOOK_SEGMENTS_TABLE} (
        segment VARCHAR NOT NULL, day DATE NOT NULL, bytes BIGINT, events BIGINT,
        duplicates BIGINT, rejected BIGINT, loaded_at TIMESTAMP)""",
)


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and its tables if they do not exist yet (idempotent)."""
    for statement in RAW_DDL:
        con.execute(statement)

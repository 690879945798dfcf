"""Queries behind the raw tables' asset checks; each returns the problems it finds, as text.

Kept apart from Dagster so the rules are tested on plain DuckDB connections.
"""

from __future__ import annotations

import duckdb

from pipeline.ingest.csv_load import TABLES
from pipeline.ingest.input_formats import INPUT_TABLES
from pipeline.warehouse import LANDING_FILES_TABLE, WEBHOOK_EVENTS_TABLE

_SHOWN = 10


def duplicate_file_loads(con: duckdb.DuckDBPyConnection, export: str) -> list[str]:
    """Rows of one file stored twice, or a table and the ledger disagreeing about a file.

    Each file content must be in the ledger once, with exactly as many rows as the table holds.
    """
    table = {**TABLES, **INPUT_TABLES}[export]
    repeated = con.execute(
        f"""SELECT _file_sha256, _row_number, count(*) FROM {table}
        GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL LIMIT {_SHOWN}"""
    ).fetchall()
    problems = [f"row {row} of file {sha} is stored {n} times" for sha, row, n in repeated]
    disagreeing = con.execute(
        f"""WITH stored AS (SELECT _file_sha256 AS sha, count(*) AS n FROM {table} GROUP BY 1),
        ledger AS (SELECT sha256 AS sha, count(*) AS entries, sum(rows) AS n
                   FROM {LANDING_FILES_TABLE} WHERE export = ? GROUP BY 1)
        SELECT sha, coalesce(stored.n, 0), coalesce(ledger.entries, 0), ledger.n
        FROM stored FULL JOIN ledger USING (sha)
        WHERE coalesce(ledger.entries, 0) <> 1 OR coalesce(stored.n, 0) <> ledger.n
        ORDER BY sha LIMIT {_SHOWN}""",
        [export],
    ).fetchall()
    problems += [
        f"file {sha}: {n} rows in the table, {entries} ledger entries ({ledger_rows} rows)"
        for sha, n, entries, ledger_rows in disagreeing
    ]
    return problems


def header_mismatches(con: duckdb.DuckDBPyConnection, export: str) -> list[str]:
    """Loaded files whose header lacked expected columns, or whose kind is unknown."""
    rows = con.execute(
        f"""SELECT path, missing_columns, kind FROM {LANDING_FILES_TABLE}
        WHERE export = ? AND (len(missing_columns) > 0 OR kind = 'unknown')
        ORDER BY loaded_at, path LIMIT {_SHOWN}""",
        [export],
    ).fetchall()
    problems = []
    for path, missing, kind in rows:
        if missing:
            problems.append(f"{path}: no column {', '.join(missing)} (loaded as NULL)")
        if kind == "unknown":
            problems.append(
                f"{path}: kind unknown (move it into subscriptions/recurring/ or "
                "subscriptions/limited/)"
            )
    return problems


def duplicate_delivery_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Webhook deliveries stored more than once (each delivery id must appear once)."""
    rows = con.execute(
        f"""SELECT delivery_id, count(*) FROM {WEBHOOK_EVENTS_TABLE}
        GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT {_SHOWN}"""
    ).fetchall()
    return [f"delivery {delivery_id} is stored {n} times" for delivery_id, n in rows]

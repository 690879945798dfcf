"""The raw tables in PostgreSQL, copied in bulk from DuckDB's `raw` schema.

The loaders validate every landing file into DuckDB (pipeline/ingest); with LTV_ENGINE=postgres
dbt builds in PostgreSQL, so the raw tables must be there too, with the same columns. They go
over in bulk: DuckDB writes each table as CSV, PostgreSQL reads it with `COPY … FROM STDIN`
(row-by-row inserts cost a round trip per row, which a 1M-row export cannot afford).

Only logic here, no Dagster: the dbt build (pipeline/defs/dbt.py) copies the raw tables
before it starts, and the tests call the same functions.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import duckdb
import psycopg2

from pipeline.settings import PostgresWarehouse, Settings
from pipeline.warehouse import connect

RAW_SCHEMA = "raw"

# DuckDB type name -> PostgreSQL's, as format_type() spells it (so an existing table's columns
# compare as equal). DECIMAL(p, s) and lists are handled by postgres_type().
POSTGRES_TYPES = {
    "VARCHAR": "text",
    # jsonb, parsed once at the copy: the models read many paths of every payload, and json
    # parses its text again for each. What jsonb drops (whitespace, key order, all but the
    # last of duplicate keys) is not what a path reads; DuckDB's raw table keeps the text.
    "JSON": "jsonb",
    "TIMESTAMP": "timestamp without time zone",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "DATE": "date",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "DOUBLE": "double precision",
    "FLOAT": "real",
}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


class CopyCursor(Protocol):
    """What a psycopg2 cursor offers that the copy uses."""

    def execute(self, query: str, params: object = None) -> object: ...

    def fetchall(self) -> list[tuple[object, ...]]: ...

    def copy_expert(self, sql: str, file: object) -> object: ...


@dataclass(frozen=True)
class DuckTable:
    """One table of a DuckDB schema (raw, or marts for the forecast): its name and (column,
    DuckDB type) pairs. PostgreSQL's copy has the same schema and name unless told another."""

    name: str
    columns: tuple[tuple[str, str], ...]
    schema: str = RAW_SCHEMA

    @property
    def qualified(self) -> str:
        return f'{self.schema}."{self.name}"'


def postgres_type(duckdb_type: str) -> str:
    """The PostgreSQL type holding the same values as a DuckDB column type."""
    if duckdb_type.endswith("[]"):
        return postgres_type(duckdb_type[:-2]) + "[]"
    decimal = _DECIMAL.fullmatch(duckdb_type)
    if decimal:
        return f"numeric({decimal.group(1)}, {decimal.group(2)})"
    try:
        return POSTGRES_TYPES[duckdb_type]
    except KeyError as exc:
        raise ValueError(f"no PostgreSQL type for DuckDB's {duckdb_type}") from exc


def duckdb_tables(duck: duckdb.DuckDBPyConnection, schema: str = RAW_SCHEMA) -> list[DuckTable]:
    """Every table of DuckDB's `schema` with its columns, in their order."""
    rows = duck.execute(
        """select table_name, column_name, data_type from duckdb_columns()
           where schema_name = ? and database_name = current_database()
           order by table_name, column_index""",
        [schema],
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, []).append((column, data_type))
    return [DuckTable(name, tuple(columns), schema) for name, columns in tables.items()]


def create_table_sql(table: DuckTable) -> str:
    """CREATE TABLE for `table` in PostgreSQL."""
    columns = ", ".join(f'"{name}" {postgres_type(kind)}' for name, kind in table.columns)
    return f"create table {table.qualified} ({columns})"


def _postgres_columns(cursor: CopyCursor, table: DuckTable) -> list[tuple[str, str]]:
    """The columns PostgreSQL's table of that name has now (none: no such table), with
    types spelled as postgres_type() spells them."""
    cursor.execute(
        """select attname, format_type(atttypid, atttypmod) from pg_attribute
           where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped
           order by attnum""",
        [table.qualified],
    )
    return [(str(name), str(kind).replace(",", ", ")) for name, kind in cursor.fetchall()]


def _matches_postgres(cursor: CopyCursor, table: DuckTable) -> bool:
    """Whether PostgreSQL has a table of that name with `table`'s columns and types."""
    wanted = [(name, postgres_type(kind)) for name, kind in table.columns]
    return _postgres_columns(cursor, table) == wanted


def _empty_table(cursor: CopyCursor, table: DuckTable) -> None:
    """An empty table with `table`'s columns: emptied in place when it has them (the staging
    views read it and stay), else created anew, dropping what read the old columns (dbt
    recreates its views at the next build)."""
    if _matches_postgres(cursor, table):
        cursor.execute(f"truncate {table.qualified}")
        return
    cursor.execute(f"drop table if exists {table.qualified} cascade")
    cursor.execute(create_table_sql(table))


# PostgreSQL's text holds no NUL character and its jsonb no `\u0000` escape, while DuckDB's
# raw tables may (a hostile webhook, a broken export). Both become U+FFFD, the replacement
# character, so one such value cannot stop the copy of every other row.
_NO_NUL = "replace({}, chr(0), chr(65533))"
# In JSON text a raw control character never occurs, so chr(1) stands in for each escaped
# backslash while `\u0000` is replaced: `\\u0000` (a backslash, then "u0000") stays as it is.
_JSON_NO_NUL = (
    "replace(replace(replace(cast({} as varchar), '\\\\', chr(1)), "
    "'\\u0000', '\\ufffd'), chr(1), '\\\\')"
)


def _csv_expression(column: str, duckdb_type: str) -> str:
    """The column as DuckDB writes it for PostgreSQL's CSV COPY, NULs replaced. Scalars are
    written alike by both; a list becomes an array literal, `{"a","b\\"c",NULL}`, each element
    quoted."""
    quoted = f'"{column}"'
    if duckdb_type == "JSON":
        return _JSON_NO_NUL.format(quoted)
    if duckdb_type == "VARCHAR":
        return _NO_NUL.format(quoted)
    if not duckdb_type.endswith("[]"):
        return quoted
    text = _NO_NUL.format("cast(e as varchar)")
    element = (
        "case when e is null then 'NULL' else "
        f"'\"' || replace(replace({text}, '\\', '\\\\'), '\"', '\\\"') || '\"' end"
    )
    return f"'{{' || array_to_string(list_transform({quoted}, lambda e: {element}), ',') || '}}'"


def copy_table(
    duck: duckdb.DuckDBPyConnection,
    cursor: CopyCursor,
    table: DuckTable,
    folder: Path,
    into: str | None = None,
) -> None:
    """Replace the rows of `table` in PostgreSQL (in schema `into`, else the same schema) by
    DuckDB's."""
    target = replace(table, schema=into or table.schema)
    _empty_table(cursor, target)
    _copy_rows(duck, cursor, table, target, folder)


def _copy_rows(
    duck: duckdb.DuckDBPyConnection,
    cursor: CopyCursor,
    table: DuckTable,
    target: DuckTable,
    folder: Path,
    batches: list[object] | None = None,
) -> None:
    """Append DuckDB's rows of `table` (only those of the load `batches`, when given) to
    PostgreSQL's `target`, through one CSV file, then refresh its statistics.

    DuckDB writes NULL as an empty field and '' as `""`, which is how PostgreSQL's CSV COPY
    tells them apart too.
    """
    path = folder / f"{table.name}.csv"
    select = ", ".join(_csv_expression(name, kind) for name, kind in table.columns)
    where = ""
    if batches is not None:
        where = f"where {_BATCH} in (select unnest(?))"
        where += f" or {_BATCH} is null" if None in batches else ""
    duck.execute(
        f"copy (select {select} from {table.qualified} {where}) "
        f"to '{path}' (format csv, header false)",
        [batches] if batches is not None else None,
    )
    names = ", ".join(f'"{name}"' for name, _ in table.columns)
    with path.open("rb") as data:
        cursor.copy_expert(f"copy {target.qualified} ({names}) from stdin with (format csv)", data)
    path.unlink()
    # Statistics now, not when autovacuum comes by: the next build plans its joins with them.
    cursor.execute(f"analyze {target.qualified}")


# Every load writes its rows with one `_loaded_at`, and a load's rows are only ever deleted
# afterwards (a file forgotten or loaded again, webhook days reloaded), never changed: so a
# batch whose row count is the same on both sides holds the same rows.
_BATCH = "_loaded_at"


def _batches(rows: list[tuple[object, ...]]) -> dict[object, int]:
    return {batch: int(count) for batch, count in rows}


def sync_table(
    duck: duckdb.DuckDBPyConnection, cursor: CopyCursor, table: DuckTable, folder: Path
) -> bool:
    """Bring PostgreSQL's copy of a raw table level with DuckDB's by its load batches: drop the
    batches that shrank or are gone, copy those that are new or shrank. Copies the whole table
    when it has no batches or its columns changed. Whether any row changed."""
    if _BATCH not in dict(table.columns) or not _matches_postgres(cursor, table):
        copy_table(duck, cursor, table, folder)
        return True
    here = _batches(
        duck.execute(f"select {_BATCH}, count(*) from {table.qualified} group by all").fetchall()
    )
    cursor.execute(f"select {_BATCH}, count(*) from {table.qualified} group by 1")
    there = _batches(cursor.fetchall())
    stale = [batch for batch, rows in there.items() if here.get(batch) != rows]
    new = [batch for batch, rows in here.items() if there.get(batch) != rows]
    if stale:
        null = f" or {_BATCH} is null" if None in stale else ""
        cursor.execute(f"delete from {table.qualified} where {_BATCH} = any(%s){null}", [stale])
    if new:
        _copy_rows(duck, cursor, table, table, folder, new)
    return bool(stale or new)


def copy_raw_schema(duck: duckdb.DuckDBPyConnection, cursor: CopyCursor) -> list[str]:
    """Make PostgreSQL's raw schema's tables hold DuckDB's rows, copying only the load batches
    it lacks (sync_table); the names of the tables that changed.

    The caller owns the transaction: in one, readers see the old tables or the new ones.
    """
    cursor.execute(f"create schema if not exists {RAW_SCHEMA}")
    changed = []
    with tempfile.TemporaryDirectory(prefix="ltv-raw-copy-") as folder:
        for table in duckdb_tables(duck):
            if sync_table(duck, cursor, table, Path(folder)):
                changed.append(table.name)
    return changed


class PostgresUnreachable(RuntimeError):
    """The PostgreSQL warehouse refused the connection; the message says what to check."""


@contextmanager
def postgres_transaction(target: PostgresWarehouse) -> Iterator[Any]:
    """A cursor in one transaction on `target`: committed when the block ends, rolled back
    when it raises."""
    try:
        con = psycopg2.connect(**target.connect_kwargs(), application_name="ltv")
    except psycopg2.OperationalError as exc:
        raise PostgresUnreachable(
            f"Cannot connect to the PostgreSQL warehouse {target.url} (LTV_WAREHOUSE): "
            f"{str(exc).strip()}. Check that the server runs and accepts this user, with the "
            "password in ~/.pgpass or PGPASSWORD."
        ) from exc
    try:
        with con, con.cursor() as cursor:
            yield cursor
    finally:
        con.close()


@contextmanager
def both_warehouses(settings: Settings) -> Iterator[tuple[duckdb.DuckDBPyConnection, Any]]:
    """The DuckDB file the loads validate into (the caller holds its single writer slot) and a
    cursor in one transaction on the PostgreSQL warehouse (LTV_ENGINE=postgres)."""
    assert settings.postgres is not None, "only with LTV_ENGINE=postgres"
    duck = connect(settings.warehouse, memory_limit=settings.memory_limit)
    try:
        with postgres_transaction(settings.postgres) as cursor:
            yield duck, cursor
    finally:
        duck.close()


def sync_raw(settings: Settings) -> list[str]:
    """Bring the PostgreSQL warehouse's raw tables level with the DuckDB file's, in one
    transaction: a build there reads the rows the loaders validated. The tables changed."""
    with both_warehouses(settings) as (duck, cursor):
        return copy_raw_schema(duck, cursor)

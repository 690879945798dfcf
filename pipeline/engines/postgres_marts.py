"""Publishing on PostgreSQL: the schema readers query, swapped in whole after each build, and
its copy in the DuckDB warehouse, from which the snapshot, the Parquet files, the forecast and
the report are made exactly as on DuckDB.

dbt builds in schema `marts` model by model, and patches its incremental models in place, so a
reader of `marts` during a build sees some marts new and some old. Readers query schema `ltv`
instead. After a build passed its tests, every table and view of `marts` is copied into a new
schema, which replaces `ltv` in the same transaction (PostgreSQL's DDL is transactional): a
reader sees the previous build or this one, never a mix. Roles granted `ltv` keep their access.

Only logic here, no Dagster (pipeline/defs/publish.py calls it).
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

import duckdb

from pipeline.engines.postgres_raw import (
    POSTGRES_TYPES,
    CopyCursor,
    both_warehouses,
    copy_table,
    duckdb_tables,
    postgres_transaction,
)
from pipeline.settings import Settings

BUILD_SCHEMA = "marts"
PUBLISHED_SCHEMA = "ltv"
_NEXT = f"{PUBLISHED_SCHEMA}_next"
_OLD = f"{PUBLISHED_SCHEMA}_previous"
# The DuckDB warehouse's schema the snapshot is published from (pipeline/publish.py).
DUCKDB_MARTS_SCHEMA = "marts"

# PostgreSQL's information_schema type -> DuckDB's: the raw copy's map the other way round
# (SMALLINT, listed after TINYINT, wins for smallint), and the spellings only PostgreSQL's
# own tables have. numeric and arrays: duckdb_type().
_DUCKDB_TYPES = {postgres: duck for duck, postgres in POSTGRES_TYPES.items()} | {
    "character varying": "VARCHAR",
    "json": "JSON",
}
_ARRAY_ELEMENTS = {"_text": "VARCHAR", "_varchar": "VARCHAR", "_int4": "INTEGER", "_int8": "BIGINT"}
# DuckDB's largest decimal; an unconstrained numeric gets the largest scale of its values.
_MAX_PRECISION = 38


def relations(cursor: CopyCursor, schema: str) -> list[str]:
    """The tables and views of a PostgreSQL schema, by name."""
    cursor.execute(
        """select table_name from information_schema.tables where table_schema = %s
           order by table_name""",
        [schema],
    )
    return [str(name) for (name,) in cursor.fetchall()]


def swap_in_marts(cursor: CopyCursor, keep: Collection[str] = ()) -> list[str]:
    """Replace schema `ltv` by a copy of everything dbt built in `marts`, plus the tables named
    in `keep` that dbt does not build (the forecast marts), carried over from the `ltv` being
    replaced. Returns the tables published. The caller owns the transaction: commit publishes.

    The replaced schema is renamed aside, not dropped: a drop would wait for every query still
    reading it, and queries arriving meanwhile would queue behind the drop. drop_replaced()
    removes it after the commit, when new queries already read the new schema.
    """
    cursor.execute(f"drop schema if exists {_NEXT} cascade")
    cursor.execute(f"create schema {_NEXT}")
    built = relations(cursor, BUILD_SCHEMA)
    carried = sorted(set(keep) & set(relations(cursor, PUBLISHED_SCHEMA)) - set(built))
    sources = [(BUILD_SCHEMA, name) for name in built] + [
        (PUBLISHED_SCHEMA, name) for name in carried
    ]
    for schema, name in sources:
        cursor.execute(f'create table {_NEXT}."{name}" as select * from {schema}."{name}"')
    grantees = _schema_readers(cursor, PUBLISHED_SCHEMA)
    drop_replaced(cursor)  # left by a publish that stopped before removing it
    cursor.execute("select to_regnamespace(%s) is not null", [PUBLISHED_SCHEMA])
    if cursor.fetchall()[0][0]:
        cursor.execute(f"alter schema {PUBLISHED_SCHEMA} rename to {_OLD}")
    cursor.execute(f"alter schema {_NEXT} rename to {PUBLISHED_SCHEMA}")
    for role in grantees:
        cursor.execute(f"grant usage on schema {PUBLISHED_SCHEMA} to {role}")
        cursor.execute(f"grant select on all tables in schema {PUBLISHED_SCHEMA} to {role}")
    return sorted(name for _, name in sources)


def drop_replaced(cursor: CopyCursor) -> None:
    """Remove the schema the last swap replaced (it waits for the queries still reading it)."""
    cursor.execute(f"drop schema if exists {_OLD} cascade")


def _schema_readers(cursor: CopyCursor, schema: str) -> list[str]:
    """The roles other than its owner that may use `schema` (PUBLIC as `public`)."""
    cursor.execute(
        """select distinct case when a.grantee = 0 then 'public'
                                else a.grantee::regrole::text end
           from pg_namespace n cross join lateral aclexplode(n.nspacl) a
           where n.nspname = %s and a.privilege_type = 'USAGE' and a.grantee <> n.nspowner
           order by 1""",
        [schema],
    )
    return [str(role) for (role,) in cursor.fetchall()]


def _columns(cursor: CopyCursor, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Per table of `schema`: (name, data_type, udt_name, precision, scale) of each column."""
    cursor.execute(
        """select table_name, column_name, data_type, udt_name, numeric_precision, numeric_scale
           from information_schema.columns where table_schema = %s
           order by table_name, ordinal_position""",
        [schema],
    )
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for table, *column in cursor.fetchall():
        tables.setdefault(str(table), []).append(tuple(column))
    return tables


def duckdb_type(column: tuple[Any, ...], largest_scale: int | None = None) -> str:
    """The DuckDB type holding a PostgreSQL column's values: an unconstrained numeric holds
    `largest_scale` decimals, so nothing is rounded on the way."""
    name, data_type, udt_name, precision, scale = column
    if data_type == "numeric":
        if precision is not None:
            return f"DECIMAL({precision}, {scale})"
        return f"DECIMAL({_MAX_PRECISION}, {largest_scale or 0})"
    if data_type == "ARRAY" and udt_name in _ARRAY_ELEMENTS:
        return _ARRAY_ELEMENTS[udt_name] + "[]"
    if data_type in _DUCKDB_TYPES:
        return _DUCKDB_TYPES[data_type]
    raise ValueError(f"column {name}: no DuckDB type for PostgreSQL's {data_type} ({udt_name})")


def _largest_scales(cursor: CopyCursor, relation: str, columns: list[tuple[Any, ...]]) -> list[int]:
    """Per unconstrained numeric column of `relation`, the largest scale it holds."""
    names = [c[0] for c in columns if c[1] == "numeric" and c[3] is None]
    if not names:
        return []
    scales = ", ".join(f'coalesce(max(scale("{name}")), 0)' for name in names)
    cursor.execute(f"select {scales} from {relation}")
    return [int(scale) for scale in cursor.fetchall()[0]]


def _export_expression(column: tuple[Any, ...]) -> str:
    """The column as written to CSV: an array as JSON, which DuckDB casts to a list."""
    return f'array_to_json("{column[0]}")' if column[1] == "ARRAY" else f'"{column[0]}"'


def mirror_into_duckdb(
    cursor: CopyCursor, duck: duckdb.DuckDBPyConnection, source: str = PUBLISHED_SCHEMA
) -> dict[str, int]:
    """Replace the DuckDB warehouse's schema `marts` by the tables of PostgreSQL's schema
    `source` (the published one), with the same columns, types and values; rows per table.

    Each table goes over as CSV (PostgreSQL's `COPY … TO STDOUT`, DuckDB's reader), read as
    text and cast, so PostgreSQL's spelling of every value is parsed once, by DuckDB's casts.
    One DuckDB transaction: a failure leaves the previous copy whole.
    """
    tables = _columns(cursor, source)
    rows: dict[str, int] = {}
    duck.execute("begin")
    try:
        duck.execute(f"drop schema if exists {DUCKDB_MARTS_SCHEMA} cascade")
        duck.execute(f"create schema {DUCKDB_MARTS_SCHEMA}")
        with tempfile.TemporaryDirectory(prefix="ltv-marts-copy-") as folder:
            for table, columns in tables.items():
                rows[table] = _mirror_table(cursor, duck, source, table, columns, Path(folder))
        duck.execute("commit")
    except BaseException:
        duck.execute("rollback")
        raise
    return rows


def _mirror_table(
    cursor: CopyCursor,
    duck: duckdb.DuckDBPyConnection,
    source: str,
    table: str,
    columns: list[tuple[Any, ...]],
    folder: Path,
) -> int:
    """One table of PostgreSQL's schema `source` into DuckDB's marts; its rows."""
    relation = f'{source}."{table}"'
    path = folder / f"{table}.csv"
    select = ", ".join(_export_expression(column) for column in columns)
    with path.open("wb") as out:
        cursor.copy_expert(f"copy (select {select} from {relation}) to stdout (format csv)", out)
    scales = iter(_largest_scales(cursor, relation, columns))
    casts = []
    for column in columns:
        unconstrained = column[1] == "numeric" and column[3] is None
        kind = duckdb_type(column, next(scales) if unconstrained else None)
        source = f'cast("{column[0]}" as JSON)' if kind.endswith("[]") else f'"{column[0]}"'
        casts.append(f'cast({source} as {kind}) as "{column[0]}"')
    text = ", ".join(f"'{column[0]}': 'VARCHAR'" for column in columns)
    duck.execute(
        f'create table {DUCKDB_MARTS_SCHEMA}."{table}" as select {", ".join(casts)} '
        f"from read_csv('{path}', columns = {{{text}}}, header = false, "
        "allow_quoted_nulls = false, auto_detect = false)"
    )
    path.unlink()
    return duck.execute(f'select count(*) from {DUCKDB_MARTS_SCHEMA}."{table}"').fetchone()[0]


def push_tables(
    duck: duckdb.DuckDBPyConnection, cursor: CopyCursor, names: Collection[str]
) -> list[str]:
    """Replace the published schema's tables `names` by the DuckDB warehouse's marts of those
    names (the forecast marts, which are fitted from the DuckDB copy). The tables pushed."""
    wanted = [t for t in duckdb_tables(duck, DUCKDB_MARTS_SCHEMA) if t.name in set(names)]
    with tempfile.TemporaryDirectory(prefix="ltv-marts-push-") as folder:
        for table in wanted:
            copy_table(duck, cursor, table, Path(folder), into=PUBLISHED_SCHEMA)
    return [table.name for table in wanted]


def publish_on_postgres(settings: Settings, keep: Collection[str] = ()) -> dict[str, int]:
    """Swap the build into the published schema (`keep`: tables carried over, see
    swap_in_marts), then copy it into the DuckDB warehouse; rows per table copied. The caller
    holds the DuckDB warehouse's single writer slot."""
    assert settings.postgres is not None, "publish_on_postgres is for LTV_ENGINE=postgres"
    with postgres_transaction(settings.postgres) as cursor:
        swap_in_marts(cursor, keep)
    with postgres_transaction(settings.postgres) as cursor:
        drop_replaced(cursor)
    with both_warehouses(settings) as (duck, cursor):
        return mirror_into_duckdb(cursor, duck)


def push_forecast(settings: Settings, names: Collection[str]) -> list[str]:
    """The forecast marts just written to the DuckDB warehouse, into the published schema in
    one transaction; the tables pushed."""
    with both_warehouses(settings) as (duck, cursor):
        return push_tables(duck, cursor, names)

"""The dbt project on Spark (LTV_ENGINE=spark): Parquet files are the interface both ways.

dbt-spark builds every model as a Parquet table under the storage path (LTV_WAREHOUSE), in the
layout of Spark's warehouse folder: `<storage>/tables/<schema>.db/<table>/part-*.parquet`.
The loaders still validate every landing file into the local DuckDB file; before a build its
raw tables are written to `<storage>/raw/<table>/` (DuckDB's Parquet writer, the bulk path),
where the build's first step defines Spark's raw tables over them
(dbt_project/macros/spark_adapter.sql). After a build DuckDB reads Spark's marts straight from
their files into the local warehouse, from which the snapshot, the Parquet copies, the forecast
and the report are made exactly as on DuckDB. No JVM outside dbt's own process.

Only logic here, no Dagster: the dbt and publish assets call it, and so do the tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipeline.engines.postgres_raw import duckdb_tables
from pipeline.settings import Settings
from pipeline.warehouse import connect

# The DuckDB warehouse's schema the snapshot is published from (pipeline/publish.py), and
# Spark's of the same name.
MARTS_SCHEMA = "marts"
# The schemas of Spark's build that hold tables (staging's views have no files).
TABLE_SCHEMAS = ("raw", "staging", "intermediate", "marts")


def schema_folder(storage: Path, schema: str) -> Path:
    """Where the tables of Spark's schema `schema` keep their Parquet files, a folder each: the
    raw tables' own folder, and Spark's warehouse folder for dbt's models
    (spark.sql.warehouse.dir, profiles.yml)."""
    if schema == "raw":
        return storage / "raw"
    return storage / "tables" / f"{schema}.db"


def table_folder(storage: Path, schema: str, table: str) -> Path:
    return schema_folder(storage, schema) / table


def spark_tables(storage: Path, schema: str) -> list[str]:
    """The tables of one of Spark's schemas, by name: the folders of their Parquet files."""
    folder = schema_folder(storage, schema)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def write_raw(duck: duckdb.DuckDBPyConnection, storage: Path) -> list[str]:
    """Write every raw table of the DuckDB file as the Parquet folder Spark's raw table reads;
    the tables written."""
    tables = duckdb_tables(duck)
    for table in tables:
        _write_folder(duck, table.qualified, table_folder(storage, "raw", table.name))
    return [table.name for table in tables]


def _write_folder(duck: duckdb.DuckDBPyConnection, relation: str, folder: Path) -> None:
    """A DuckDB relation as the one Parquet file of `folder`, written beside the old folder and
    renamed over it, so a reader never finds it half written."""
    fresh = folder.with_name(f".{folder.name}.next")
    old = folder.with_name(f".{folder.name}.old")
    for leftover in (fresh, old):
        shutil.rmtree(leftover, ignore_errors=True)
    fresh.mkdir(parents=True)
    duck.execute(f"copy {relation} to '{fresh / 'part-0.parquet'}' (format parquet)")
    if folder.exists():
        folder.rename(old)
    fresh.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def _parquet(folder: Path) -> str:
    return f"read_parquet('{folder}/*.parquet')"


def _select_naive(duck: duckdb.DuckDBPyConnection, source: str) -> str:
    """A select of every column of `source`, Spark's zoned timestamps as the naive UTC
    timestamps they stand for (the session clock is UTC, profiles.yml): the marts' type."""
    columns = duck.execute(f"describe select * from {source}").fetchall()
    items = [
        f'timezone(\'UTC\', "{name}") as "{name}"'
        if kind == "TIMESTAMP WITH TIME ZONE"
        else f'"{name}"'
        for name, kind, *_ in columns
    ]
    return f"select {', '.join(items)} from {source}"


def mirror_marts(
    duck: duckdb.DuckDBPyConnection, storage: Path, keep: Collection[str] = ()
) -> dict[str, int]:
    """Replace the DuckDB warehouse's schema `marts` by Spark's marts, read from their Parquet
    files, keeping the tables `keep` (the forecast marts, fitted from this copy); rows per table
    copied. One DuckDB transaction: a failure leaves the previous copy whole."""
    rows: dict[str, int] = {}
    duck.execute("begin")
    try:
        duck.execute(f"create schema if not exists {MARTS_SCHEMA}")
        for (name,) in duck.execute(
            "select table_name from information_schema.tables where table_schema = ?",
            [MARTS_SCHEMA],
        ).fetchall():
            if name not in keep:
                duck.execute(f'drop table if exists {MARTS_SCHEMA}."{name}"')
        for name in spark_tables(storage, MARTS_SCHEMA):
            source = _parquet(table_folder(storage, MARTS_SCHEMA, name))
            duck.execute(
                f'create or replace table {MARTS_SCHEMA}."{name}" as {_select_naive(duck, source)}'
            )
            rows[name] = duck.execute(f'select count(*) from {MARTS_SCHEMA}."{name}"').fetchone()[0]
        duck.execute("commit")
    except BaseException:
        duck.execute("rollback")
        raise
    return rows


def write_forecast(duck: duckdb.DuckDBPyConnection, storage: Path, names: Sequence[str]) -> None:
    """The forecast marts of the DuckDB warehouse as Parquet folders of Spark's marts, where
    the next build's first step defines them as tables (spark_adapter.sql)."""
    for name in names:
        _write_folder(duck, f'{MARTS_SCHEMA}."{name}"', storage / "forecast" / name)


@contextmanager
def parquet_views(storage: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with a view per table Spark built, in schemas of the same names:
    the pipeline's own reads of the build (its state, the docs' catalog) without a JVM."""
    duck = duckdb.connect()
    try:
        for schema in TABLE_SCHEMAS:
            duck.execute(f"create schema if not exists {schema}")
            for name in spark_tables(storage, schema):
                source = _parquet(table_folder(storage, schema, name))
                duck.execute(f'create view {schema}."{name}" as {_select_naive(duck, source)}')
        yield duck
    finally:
        duck.close()


def sync_raw(settings: Settings) -> list[str]:
    """Write the DuckDB file's raw tables where Spark's build reads them; the tables written."""
    with _local_warehouse(settings) as (duck, storage):
        return write_raw(duck, storage)


def publish_on_spark(settings: Settings, keep: Collection[str] = ()) -> dict[str, int]:
    """Copy Spark's marts into the DuckDB warehouse (keeping `keep`); rows per table. The
    caller holds the DuckDB warehouse's single writer slot."""
    with _local_warehouse(settings) as (duck, storage):
        return mirror_marts(duck, storage, keep)


def push_forecast(settings: Settings, names: Sequence[str]) -> list[str]:
    """The forecast marts just written to the DuckDB warehouse, as Spark's Parquet folders."""
    with _local_warehouse(settings) as (duck, storage):
        write_forecast(duck, storage, names)
    return list(names)


@contextmanager
def _local_warehouse(settings: Settings) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """The DuckDB file the loads validate into, and Spark's storage path (LTV_ENGINE=spark)."""
    assert settings.spark is not None, "only with LTV_ENGINE=spark"
    duck = connect(settings.warehouse, memory_limit=settings.memory_limit)
    try:
        yield duck, settings.spark.storage
    finally:
        duck.close()

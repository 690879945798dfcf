"""Read queries on the warehouse the dbt project builds in (LTV_ENGINE), whichever engine: the
pipeline's own bookkeeping around a build (whether to rebuild from raw, the docs' catalog)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pipeline.engines.postgres_raw import postgres_transaction
from pipeline.engines.spark import parquet_views
from pipeline.settings import Settings
from pipeline.warehouse import connect

# query(sql, params) -> rows; `?` marks a parameter on both engines.
Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


@contextmanager
def build_warehouse_query(settings: Settings) -> Iterator[Query]:
    """A query function on the warehouse dbt builds in: one PostgreSQL transaction, or the
    DuckDB file (waiting while another process holds it), or Spark's tables read from their
    Parquet files by DuckDB. Brief: the caller holds the warehouse's single writer slot."""
    if settings.spark is not None:
        with parquet_views(settings.spark.storage) as views:
            yield lambda sql, params: views.execute(sql, params).fetchall()
        return
    if settings.postgres is not None:
        with postgres_transaction(settings.postgres) as cursor:

            def on_postgres(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
                cursor.execute(sql.replace("?", "%s"), params)
                return cursor.fetchall()

            yield on_postgres
        return
    con = connect(settings.warehouse, memory_limit=settings.memory_limit)
    try:
        yield lambda sql, params: con.execute(sql, params).fetchall()
    finally:
        con.close()

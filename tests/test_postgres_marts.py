"""Publishing on PostgreSQL (pipeline/engines/postgres_marts.py) on a throwaway server: the
build swapped into schema `ltv` with its readers' grants, and copied back into DuckDB with the
same values and types. No dbt or Dagster here; tests/test_ltv_run_postgres.py runs it all."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import duckdb
import psycopg2
import pytest
from postgres_support import Cluster

from pipeline.engines.postgres_marts import (
    drop_replaced,
    mirror_into_duckdb,
    push_tables,
    swap_in_marts,
)
from pipeline.engines.postgres_raw import postgres_transaction
from pipeline.settings import PostgresWarehouse


@pytest.fixture
def warehouse(postgres_cluster: Cluster) -> PostgresWarehouse:
    return postgres_cluster.create_database(f"marts_{uuid.uuid4().hex[:8]}")


def _run(target: PostgresWarehouse, *statements: str) -> None:
    with postgres_transaction(target) as cursor:
        for statement in statements:
            cursor.execute(statement)


def _rows(target: PostgresWarehouse, sql: str) -> list[tuple[object, ...]]:
    with postgres_transaction(target) as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_the_build_is_swapped_in_whole_with_the_forecast_and_the_grants_kept(
    warehouse: PostgresWarehouse,
) -> None:
    _run(
        warehouse,
        "create schema marts",
        "create table marts.fct_payments as select 1 as id",
        "create view marts.mart_view as select 2 as id",
        "create table marts.gone as select 3 as id",
    )
    with postgres_transaction(warehouse) as cursor:
        assert swap_in_marts(cursor, keep=["customer_ltv_forecast"]) == [
            "fct_payments",
            "gone",
            "mart_view",
        ]
    _run(
        warehouse,
        "create table ltv.customer_ltv_forecast as select 9 as id",
        "create role analyst",
        "grant usage on schema ltv to analyst",
        "grant select on all tables in schema ltv to analyst",
        # the next build: new rows, a mart dropped from the project
        "drop table marts.gone",
        "insert into marts.fct_payments values (4)",
    )
    with postgres_transaction(warehouse) as cursor:
        published = swap_in_marts(cursor, keep=["customer_ltv_forecast"])
    with postgres_transaction(warehouse) as cursor:
        drop_replaced(cursor)

    assert published == ["customer_ltv_forecast", "fct_payments", "mart_view"]
    assert _rows(warehouse, "select id from ltv.fct_payments order by id") == [(1,), (4,)]
    assert _rows(warehouse, "select id from ltv.customer_ltv_forecast") == [(9,)]
    assert _rows(
        warehouse,
        """select table_name, table_type from information_schema.tables
           where table_schema like 'ltv%' order by 1""",
    ) == [
        ("customer_ltv_forecast", "BASE TABLE"),
        ("fct_payments", "BASE TABLE"),
        ("mart_view", "BASE TABLE"),
    ]
    assert _rows(
        warehouse,
        """select has_schema_privilege('analyst', 'ltv', 'usage'),
                  has_table_privilege('analyst', 'ltv.fct_payments', 'select'),
                  has_table_privilege('analyst', 'ltv.customer_ltv_forecast', 'select')""",
    ) == [(True, True, True)]


def _publish_then_build_again(warehouse: PostgresWarehouse) -> None:
    """`ltv.a` published with one row, then a build that adds a second to `marts.a`."""
    _run(warehouse, "create schema marts", "create table marts.a as select 1 as id")
    with postgres_transaction(warehouse) as cursor:
        swap_in_marts(cursor)
    _run(warehouse, "insert into marts.a values (2)")


def test_a_failed_swap_leaves_the_published_schema_as_it_was(
    warehouse: PostgresWarehouse,
) -> None:
    _publish_then_build_again(warehouse)

    with pytest.raises(RuntimeError, match="stopped"), postgres_transaction(warehouse) as cursor:
        swap_in_marts(cursor)
        raise RuntimeError("stopped before the commit")

    assert _rows(warehouse, "select id from ltv.a") == [(1,)]


def test_a_long_query_on_the_old_marts_never_holds_up_the_swap_or_new_readers(
    warehouse: PostgresWarehouse,
) -> None:
    _publish_then_build_again(warehouse)
    reader = psycopg2.connect(**warehouse.connect_kwargs())
    try:
        with reader.cursor() as long_query:  # an analyst's transaction, still open
            long_query.execute("select count(*) from ltv.a")
            assert long_query.fetchone() == (1,)
            with postgres_transaction(warehouse) as cursor:
                cursor.execute("set local lock_timeout = '3s'")
                swap_in_marts(cursor)
            assert _rows(warehouse, "select count(*) from ltv.a") == [(2,)]
            # Removing the replaced schema waits for that query (here: gives up after 0.2 s).
            with (
                pytest.raises(psycopg2.errors.LockNotAvailable),
                postgres_transaction(warehouse) as cursor,
            ):
                cursor.execute("set local lock_timeout = '200ms'")
                drop_replaced(cursor)
        reader.rollback()
    finally:
        reader.close()
    with postgres_transaction(warehouse) as cursor:
        drop_replaced(cursor)
    assert _rows(warehouse, "select to_regnamespace('ltv_previous')") == [(None,)]


def test_the_published_marts_reach_duckdb_with_their_values_and_types(
    warehouse: PostgresWarehouse,
) -> None:
    _run(
        warehouse,
        "create schema ltv",
        """create table ltv.t (
             amount numeric(18, 2), ratio numeric, text_value text, flag boolean,
             day date, at timestamp, share double precision, n bigint, small integer,
             names text[], counts integer[])""",
        """insert into ltv.t values
             (12.34, 1.5, '', true, '2024-02-29', '2024-02-29 23:59:59.123456', 0.1,
              9007199254740993, -1, array['a', 'b,"c"', null, ''], array[1, null]),
             (null, 2.125, e'two\\nlines, "quoted"', false, null, null, 1e300, null, null,
              array[]::text[], null),
             (-0.01, null, null, null, '1970-01-01', '1970-01-01 00:00:00', null, 0, 0, null,
              array[7])""",
        "create table ltv.empty (id integer, label text)",
    )
    with duckdb.connect() as duck, postgres_transaction(warehouse) as cursor:
        rows = mirror_into_duckdb(cursor, duck)
        types = duck.execute(
            """select column_name, data_type from duckdb_columns()
               where schema_name = 'marts' and table_name = 't' order by column_index"""
        ).fetchall()
        values = duck.execute("select * from marts.t order by n nulls first").fetchall()

    assert rows == {"empty": 0, "t": 3}
    assert types == [
        ("amount", "DECIMAL(18,2)"),
        ("ratio", "DECIMAL(38,3)"),
        ("text_value", "VARCHAR"),
        ("flag", "BOOLEAN"),
        ("day", "DATE"),
        ("at", "TIMESTAMP"),
        ("share", "DOUBLE"),
        ("n", "BIGINT"),
        ("small", "INTEGER"),
        ("names", "VARCHAR[]"),
        ("counts", "INTEGER[]"),
    ]
    no_numbers = (None, Decimal("2.125"), 'two\nlines, "quoted"', False, None, None, 1e300)
    epoch = (Decimal("-0.01"), None, None, None, date(1970, 1, 1), datetime(1970, 1, 1), None)
    leap = (Decimal("12.34"), Decimal("1.500"), "", True, date(2024, 2, 29))
    last_moment = datetime(2024, 2, 29, 23, 59, 59, 123456)
    lists = (["a", 'b,"c"', None, ""], [1, None])
    assert values == [
        (*no_numbers, None, None, [], None),
        (*epoch, 0, 0, None, [7]),
        (*leap, last_moment, 0.1, 9007199254740993, -1, *lists),
    ]


def test_the_forecast_fitted_in_duckdb_replaces_the_published_forecast(
    warehouse: PostgresWarehouse,
) -> None:
    _run(
        warehouse,
        "create schema ltv",
        "create table ltv.customer_ltv_forecast (customer_id text, value numeric(18, 2))",
        "insert into ltv.customer_ltv_forecast values ('old', 1)",
    )
    with duckdb.connect() as duck:
        duck.execute("create schema marts")
        duck.execute(
            """create table marts.customer_ltv_forecast as
               select 'c1' as customer_id, 12.5::decimal(18, 2) as value"""
        )
        duck.execute("create table marts.fct_payments as select 1 as id")
        with postgres_transaction(warehouse) as cursor:
            pushed = push_tables(duck, cursor, ["customer_ltv_forecast"])

    assert pushed == ["customer_ltv_forecast"]
    assert _rows(warehouse, "select * from ltv.customer_ltv_forecast") == [("c1", Decimal("12.50"))]
    assert _rows(warehouse, "select to_regclass('ltv.fct_payments')") == [(None,)]


def test_an_unreachable_server_names_the_setting_and_what_to_check(
    postgres_cluster: Cluster,
) -> None:
    nowhere = PostgresWarehouse("127.0.0.1", postgres_cluster.port, "postgres", "no_such_db")
    with pytest.raises(RuntimeError) as raised, postgres_transaction(nowhere):
        pass
    message = str(raised.value)
    assert "LTV_WAREHOUSE" in message and "no_such_db" in message
    assert isinstance(raised.value.__cause__, psycopg2.OperationalError)

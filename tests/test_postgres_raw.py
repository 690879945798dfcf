"""DuckDB's raw tables reach PostgreSQL whole: every table, column type and value, NULL and ''
kept apart, lists as arrays, JSON as jsonb with every value (pipeline/engines/postgres_raw.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import duckdb
import psycopg2
import pytest
from postgres_support import Cluster

from pipeline.engines.postgres_raw import copy_raw_schema, duckdb_tables, postgres_type
from pipeline.warehouse import ensure_raw_schema


@pytest.fixture
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    ensure_raw_schema(con)
    yield con
    con.close()


def test_every_raw_column_type_has_a_postgres_type(duck: duckdb.DuckDBPyConnection) -> None:
    types = {kind for table in duckdb_tables(duck) for _, kind in table.columns}
    assert {"JSON", "VARCHAR[]", "DECIMAL(18,8)"} <= types
    assert {postgres_type(kind) for kind in types} >= {"jsonb", "text[]", "numeric(18, 8)"}
    assert postgres_type("TIMESTAMP") == "timestamp without time zone"
    with pytest.raises(ValueError, match="HUGEINT"):
        postgres_type("HUGEINT")


def test_raw_tables_are_copied_with_their_values(
    duck: duckdb.DuckDBPyConnection, postgres_cluster: Cluster
) -> None:
    duck.execute(
        """insert into raw.landing_files (sha256, path, missing_columns, notes, loaded_at)
           values ('a', 'say "hi", 2\n', ['x', 'y"z', null, 'b\\s'], [], '2024-05-01 10:00:00.5'),
                  ('b', '', null, null, null),
                  ('c', 'nul' || chr(0), ['x' || chr(0)], null, null)"""
    )
    duck.execute(
        """insert into raw.fx_rates values ('2024-05-01', 'EUR', 'USD', 1.07125, 'ecb', null,
           'f', 'fx.csv', 2, null)"""
    )
    duck.execute(
        r"""insert into raw.thrivecart_webhook_events (delivery_id, payload, _segment, _segment_day)
           values ('d', '{"z": 1, "a": [2.50, "x"]}', 's', '2024-05-01'),
                  ('n', '{"nul": "x\u0000y", "two": "\u0000\u0000", "kept": "\\u0000\\"}',
                   's', '2024-05-01')"""
    )
    target = postgres_cluster.create_database("raw_copy")
    con = psycopg2.connect(**target.connect_kwargs())
    try:
        with con, con.cursor() as cursor:
            copied = copy_raw_schema(duck, cursor)
            # A view reading a raw table, as dbt's staging views do, outlives the next copy.
            cursor.execute("create view raw_files as select sha256 from raw.landing_files")
            copy_raw_schema(duck, cursor)  # replaces the rows of the first
            cursor.execute("select count(*) from raw_files")
            assert cursor.fetchone() == (3,)
            cursor.execute(
                "select sha256, path, missing_columns, notes, loaded_at from raw.landing_files "
                "order by sha256"
            )
            files = cursor.fetchall()
            cursor.execute("select rate_date, rate, _extra from raw.fx_rates")
            rates = cursor.fetchall()
            cursor.execute(
                "select payload #>> '{a,0}', payload ->> 'z', payload ->> 'nul', "
                "payload ->> 'two', payload ->> 'kept' "
                "from raw.thrivecart_webhook_events order by delivery_id"
            )
            payloads = cursor.fetchall()
    finally:
        con.close()
    assert sorted(copied) == sorted(table.name for table in duckdb_tables(duck))
    assert files == [
        (
            "a",
            'say "hi", 2\n',
            ["x", 'y"z', None, "b\\s"],
            [],
            datetime(2024, 5, 1, 10, 0, 0, 500000),
        ),
        ("b", "", None, None, None),
        # PostgreSQL's text cannot hold NUL: the replacement character stands in for it.
        ("c", "nul\ufffd", ["x\ufffd"], None, None),
    ]
    assert rates == [(date(2024, 5, 1), Decimal("1.07125000"), None)]
    # jsonb refuses the \\u0000 escape: U+FFFD again, and an escaped backslash before
    # "u0000" is text, kept as it is.
    assert payloads == [
        ("2.50", "1", None, None, None),
        (None, None, "x\ufffdy", "\ufffd\ufffd", "\\u0000\\"),
    ]


def _rates(rows: list[tuple[str, int, str | None]]) -> str:
    """fx_rates rows of (file, row number, loaded at) as an insert."""
    values = ", ".join(
        f"('2024-05-01', 'EUR', 'USD', 1.1, 'ecb', null, '{sha}', 'fx.csv', {n}, "
        + (f"'{loaded}')" if loaded else "null)")
        for sha, n, loaded in rows
    )
    return f"insert into raw.fx_rates values {values}"


def test_a_copy_moves_only_the_load_batches_postgres_lacks(
    duck: duckdb.DuckDBPyConnection, postgres_cluster: Cluster
) -> None:
    kept, gone, shrunk = "2024-05-01 10:00:00", "2024-05-02 10:00:00", "2024-05-03 10:00:00"
    duck.execute(_rates([("a", 1, kept), ("a", 2, kept), ("b", 1, gone), ("c", 1, shrunk)]))
    duck.execute(_rates([("c", 2, shrunk), ("n", 1, None)]))
    target = postgres_cluster.create_database("raw_sync")
    query = "select _file_sha256, _row_number, xmin::text from raw.fx_rates order by 1, 2"
    con = psycopg2.connect(**target.connect_kwargs())
    try:
        with con, con.cursor() as cursor:
            copy_raw_schema(duck, cursor)
        with con, con.cursor() as cursor:
            cursor.execute(query)
            before = {(sha, n): xmin for sha, n, xmin in cursor.fetchall()}
        # A file forgotten, one row of a batch deleted, and a new file loaded.
        duck.execute("delete from raw.fx_rates where _file_sha256 = 'b'")
        duck.execute("delete from raw.fx_rates where _file_sha256 = 'c' and _row_number = 2")
        duck.execute(_rates([("d", 1, "2024-05-04 10:00:00")]))
        with con, con.cursor() as cursor:
            changed = copy_raw_schema(duck, cursor)
        with con, con.cursor() as cursor:
            cursor.execute(query)
            after = {(sha, n): xmin for sha, n, xmin in cursor.fetchall()}
    finally:
        con.close()
    assert "fx_rates" in changed and "transactions" not in changed
    assert sorted(after) == [("a", 1), ("a", 2), ("c", 1), ("d", 1), ("n", 1)]
    # The untouched batches' rows were not written again; the shrunk one was copied anew.
    assert [after[key] == before[key] for key in [("a", 1), ("a", 2), ("n", 1)]] == [True] * 3
    assert after[("c", 1)] != before[("c", 1)]

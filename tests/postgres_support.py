"""A throwaway PostgreSQL cluster for the tests that build on PostgreSQL (no tests here).

It lives in a temp folder, listens on a free loopback port with its unix socket in that folder,
trusts every local connection and runs without fsync (nothing in it must survive a crash).
PostgreSQL refuses to run as root, so under root initdb and pg_ctl run as the `postgres` system
user (which Debian's package creates) and the folder belongs to it.

When initdb is missing, `scripts/ensure-postgres.sh` installs it first (once, whichever xdist
worker comes first), as a plain pytest run does for chromium. When PostgreSQL still is not
there or does not start, `PostgresUnavailable` says why, and the tests skip with that reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pyarrow as pa
from e2e_support import free_port
from filelock import FileLock

from pipeline.settings import PROJECT_ROOT, PostgresWarehouse

SUPERUSER = "postgres"
ENSURE_POSTGRES = PROJECT_ROOT / "scripts" / "ensure-postgres.sh"
INSTALL_TIMEOUT_SECONDS = 600
# pg_ctl's own bounded wait for the server to accept connections.
START_TIMEOUT_SECONDS = 60
# Durability is not worth its fsyncs in a cluster that is removed after the tests.
SERVER_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot run here; the message says why."""


@dataclass(frozen=True)
class Cluster:
    """A running throwaway cluster: where it is and how to reach it."""

    root: Path
    port: int

    def warehouse(self, database: str) -> PostgresWarehouse:
        return PostgresWarehouse("127.0.0.1", self.port, SUPERUSER, database)

    def create_database(self, name: str) -> PostgresWarehouse:
        """A new empty database in the cluster (CREATE DATABASE runs outside a transaction)."""
        con = psycopg2.connect(**self.warehouse("postgres").connect_kwargs())
        try:
            con.autocommit = True
            with con.cursor() as cursor:
                cursor.execute(f'create database "{name}"')
        finally:
            con.close()
        return self.warehouse(name)


def server_bin() -> Path:
    """The folder of initdb and pg_ctl: on the PATH, or Debian's, newest version first."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name),
    )
    if not candidates:
        raise PostgresUnavailable(
            "PostgreSQL is not installed (no initdb); scripts/ensure-postgres.sh installs it"
        )
    return Path(candidates[-1]).parent


def installed_server_bin() -> Path:
    """server_bin(), after installing PostgreSQL with ensure-postgres.sh when it is missing."""
    try:
        return server_bin()
    except PostgresUnavailable:
        pass
    with FileLock(str(Path(tempfile.gettempdir()) / "ltv-ensure-postgres.lock")):
        try:
            return server_bin()  # another worker installed it meanwhile
        except PostgresUnavailable:
            pass
        done = subprocess.run(
            ["sh", str(ENSURE_POSTGRES)],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
            check=False,
        )
    try:
        return server_bin()
    except PostgresUnavailable as exc:
        output = (done.stdout + done.stderr).strip()[-1000:]
        raise PostgresUnavailable(f"{exc}; {ENSURE_POSTGRES.name} said: {output}") from None


def _as_server_user() -> list[str]:
    """The prefix that runs a command as the user owning the cluster."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresUnavailable("running as root and there is no `postgres` user") from exc
    if not shutil.which("runuser"):
        raise PostgresUnavailable("running as root and there is no runuser")
    return ["runuser", "-u", "postgres", "--"]


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PostgresUnavailable(f"{what} failed: {(done.stderr or done.stdout).strip()[-1500:]}")


def start_cluster(root: Path) -> Cluster:
    """initdb in `root`/data and start the server; `root` must exist and be empty."""
    binaries, prefix = installed_server_bin(), _as_server_user()
    if prefix:
        shutil.chown(root, user="postgres", group="postgres")
    data = root / "data"
    _run(
        [
            *prefix,
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ],
        "initdb",
    )
    port = free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 {SERVER_OPTIONS}"
    _run(
        [
            *prefix,
            str(binaries / "pg_ctl"),
            "start",
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "-t",
            str(START_TIMEOUT_SECONDS),
            "-o",
            options,
        ],
        "pg_ctl start",
    )
    return Cluster(root, port)


def stop_cluster(root: Path) -> None:
    """Stop the server in `root`, if one runs, at once (its sessions are rolled back), and
    remove the folder."""
    if (root / "data" / "postmaster.pid").exists():
        subprocess.run(
            [
                *_as_server_user(),
                str(server_bin() / "pg_ctl"),
                "stop",
                "-D",
                str(root / "data"),
                "-m",
                "fast",
                "-w",
            ],
            capture_output=True,
            check=False,
        )
    shutil.rmtree(root, ignore_errors=True)


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A started cluster in a new temp folder, stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="ltv-postgres-"))
    try:
        yield start_cluster(root)
    finally:
        stop_cluster(root)


# PostgreSQL's information_schema type -> Arrow's, for the copy of built tables into DuckDB.
_ARROW_TYPES = {
    "text": pa.string(),
    "character varying": pa.string(),
    "boolean": pa.bool_(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "double precision": pa.float64(),
    "real": pa.float32(),
    "date": pa.date32(),
    "timestamp without time zone": pa.timestamp("us"),
}
_ARRAY_ELEMENTS = {"_text": pa.string(), "_varchar": pa.string(), "_int4": pa.int32()}


def _arrow_type(column: tuple[Any, ...], values: list[Any]) -> pa.DataType:
    """The Arrow type of a column: a numeric without a declared scale gets the largest scale
    of its values, so nothing is rounded on the way."""
    _, data_type, udt_name, precision, scale = column
    if data_type == "numeric":
        if precision is not None:
            return pa.decimal128(precision, scale)
        scales = [-v.as_tuple().exponent for v in values if isinstance(v, Decimal)]
        return pa.decimal128(38, max([0, *scales]))
    if data_type == "ARRAY":
        return pa.list_(_ARRAY_ELEMENTS[udt_name])
    return _ARROW_TYPES[data_type]


def copy_tables_to_duckdb(
    source: PostgresWarehouse, duck: duckdb.DuckDBPyConnection, schema: str
) -> list[str]:
    """Every table of a PostgreSQL schema into the DuckDB schema of that name, with the same
    columns, types and values, so checks written for DuckDB read PostgreSQL's build."""
    duck.execute(f"create schema if not exists {schema}")
    con = psycopg2.connect(**source.connect_kwargs())
    try:
        with con.cursor() as cursor:
            cursor.execute(
                """select table_name, column_name, data_type, udt_name, numeric_precision,
                          numeric_scale
                   from information_schema.columns
                   join information_schema.tables using (table_schema, table_name)
                   where table_schema = %s and table_type = 'BASE TABLE'
                   order by table_name, ordinal_position""",
                [schema],
            )
            tables: dict[str, list[tuple[Any, ...]]] = {}
            for table, *column in cursor.fetchall():
                tables.setdefault(table, []).append(tuple(column))
            for table, columns in tables.items():
                names = ", ".join(f'"{column[0]}"' for column in columns)
                cursor.execute(f'select {names} from {schema}."{table}"')
                _create_from_rows(duck, f"{schema}.{table}", columns, cursor.fetchall())
    finally:
        con.close()
    return sorted(tables)


def _create_from_rows(
    duck: duckdb.DuckDBPyConnection, name: str, columns: list[tuple[Any, ...]], rows: list[Any]
) -> None:
    arrays = []
    for index, column in enumerate(columns):
        values = [row[index] for row in rows]
        arrays.append(pa.array(values, type=_arrow_type(column, values)))
    batch = pa.table(arrays, names=[column[0] for column in columns])  # noqa: F841
    duck.execute(f"create or replace table {name} as select * from batch")

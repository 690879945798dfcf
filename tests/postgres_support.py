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
from pathlib import Path

import psycopg2
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


def start_cluster(root: Path, durable: bool = False) -> Cluster:
    """initdb in `root`/data and start the server; `root` must exist and be empty. Not
    `durable`: without the fsyncs a server that must survive a crash pays (tests)."""
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
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    options += "" if durable else f" {SERVER_OPTIONS}"
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
def throwaway_cluster(durable: bool = False) -> Iterator[Cluster]:
    """A started cluster in a new temp folder, stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="ltv-postgres-"))
    try:
        yield start_cluster(root, durable)
    finally:
        stop_cluster(root)

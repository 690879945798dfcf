"""Publish the marts for analysts: a read-only DuckDB snapshot and Parquet files beside it.

Analysts never open the working warehouse: DuckDB lets no reader in while the pipeline writes
it, and a reader holding it would in turn block the pipeline. Instead, after each build every
table (or view) in schema `marts` is copied into a new file written aside, which is then renamed
over `LTV_MARTS_SNAPSHOT`. A rename is atomic, so a new reader sees either the old snapshot or
the new one, never half of one, and a reader still holding the old file keeps reading it
undisturbed (POSIX keeps an open file alive after it is replaced).

The Parquet copy, for tools that do not speak DuckDB, is a versioned folder:
`<stem>_parquet` is a symlink to `.<stem>_parquet.versions/<version>/`, and publishing swaps
the symlink atomically. The previous version is kept so a reader that resolved the link just
before the swap can still open its files.

In the snapshot the marts live in the default schema (`main`): with the default file name
`marts.duckdb`, a schema `marts` would make `marts.fct_payments` ambiguous in DuckDB, while in
`main` analysts write `fct_payments` (or `marts.fct_payments`, the catalog) and it just works.
"""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from filelock import FileLock

from pipeline.settings import Settings
from pipeline.snapshot_patch import (
    Patch,
    patch_mart,
    plan_patch,
    plan_refresh,
    start_from_previous,
)

MARTS_SCHEMA = "marts"
# The marts of the contract (marts.md), the tables analysts rely on.
CONTRACT_MARTS = (
    "fct_payments",
    "dim_customers",
    "dim_subscriptions",
    "ltv_cohorts_monthly",
    "ltv_day_n",
    "repeat_purchase_cohorts",
    "customers_by_order_count",
    "product_paths",
    "revenue_daily",
    "source_reconciliation",
    "mrr_monthly",
    "subscription_retention_cohorts",
    "failed_payment_recovery",
    "split_pay_plans",
    "cac_cohorts",
    "ltv_cohorts_all_currencies",
)
# The snapshot and its Parquet files are replaced, never edited: mode r--r--r-- says so, and
# keeps a read-write session from leaving a WAL file that would not match the next snapshot.
READ_ONLY_MODE = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
KEEP_PARQUET_VERSIONS = 2


class PublishError(RuntimeError):
    """The snapshot could not be published; the message says why and what to do."""


@dataclass(frozen=True)
class PublishResult:
    """What one publish wrote: the snapshot file, the Parquet folder, rows per table."""

    snapshot: Path
    parquet_dir: Path
    tables: dict[str, int]
    published_at: datetime
    # The previous snapshot was patched with what an incremental build changed.
    patched: bool = False

    @property
    def rows(self) -> int:
        """Rows over every table."""
        return sum(self.tables.values())

    @property
    def parquet_files(self) -> dict[str, Path]:
        """Table name -> its Parquet file (through the `<stem>_parquet` symlink)."""
        return {table: self.parquet_dir / f"{table}.parquet" for table in self.tables}


def parquet_link(snapshot: Path) -> Path:
    """The Parquet folder analysts use: `<snapshot dir>/<snapshot stem>_parquet`."""
    return snapshot.with_name(f"{snapshot.stem}_parquet")


def publish_snapshot(settings: Settings, refresh: Collection[str] = ()) -> PublishResult:
    """Copy every table of schema `marts` of the warehouse into the snapshot and Parquet files.

    With `refresh`, the tables written since this build's snapshot was published: only they
    are copied, when the snapshot on disk is this build's (else everything is). Must not run
    while another process writes the warehouse (Dagster's warehouse pool sees to that). Raises
    PublishError when the warehouse is missing, locked or has no marts yet.
    """
    snapshot, link = settings.marts_snapshot, parquet_link(settings.marts_snapshot)
    _check_paths(settings.warehouse, snapshot, link)
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    published_at = datetime.now(UTC)
    token = f"{published_at:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:6]}"
    new_db = snapshot.with_name(f".{snapshot.name}.{token}.tmp")
    new_parquet = _versions_dir(link) / token
    try:
        tables, patched = _write_snapshot(settings, new_db, new_parquet, refresh)
        _replace_snapshot(new_db, snapshot)
        _swap_link(link, new_parquet)
    except BaseException:
        _remove(new_db, _wal(new_db))
        if not (link.is_symlink() and link.resolve() == new_parquet.resolve()):
            shutil.rmtree(new_parquet, ignore_errors=True)
        raise
    _prune_versions(link)
    return PublishResult(snapshot, link, tables, published_at, patched)


def publish_all_accounts(settings: Settings) -> Path | None:
    """With LTV_ACCOUNTS, rewrite the snapshot of every account together (`shared_snapshot`,
    LTV_MARTS_SNAPSHOT as configured) from the accounts' published snapshots: each table holds
    every account's rows, with an `account` column put first where the mart has none. None
    without accounts.

    It reads published snapshots only, never a warehouse, so it waits for no writer; a file
    lock keeps two accounts' runs from rewriting it at once, and the file is replaced whole.
    """
    sources = {a: path for a, path in settings.account_snapshots().items() if path.is_file()}
    if not sources:
        return None
    target = settings.shared_snapshot
    target.parent.mkdir(parents=True, exist_ok=True)
    new_db = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    with FileLock(target.with_name(f".{target.name}.lock")):
        try:
            with duckdb.connect(str(new_db)) as con:
                _union_accounts(con, sources)
            _replace_snapshot(new_db, target)
        except BaseException:
            _remove(new_db, _wal(new_db))
            raise
    return target


def _union_accounts(con: duckdb.DuckDBPyConnection, sources: dict[str, Path]) -> None:
    """Every table of every source snapshot, the accounts' rows one after the other."""
    for n, path in enumerate(sources.values()):
        con.execute(f"ATTACH {_literal(path)} AS account_{n} (READ_ONLY)")
    columns = con.execute(
        """SELECT database_name, table_name, bool_or(column_name = 'account')
           FROM duckdb_columns() WHERE starts_with(database_name, 'account_')
           GROUP BY ALL"""
    ).fetchall()
    has_account = {(db, table): flag for db, table, flag in columns}
    for table in sorted({table for _, table in has_account}):
        parts = []
        for n, account in enumerate(sources):
            key = (f"account_{n}", table)
            if key in has_account:
                extra = "" if has_account[key] else f"{_literal(account)} AS account, "
                parts.append(f"SELECT {extra}* FROM account_{n}.main.{_ident(table)}")
        con.execute(f"CREATE TABLE {_ident(table)} AS " + " UNION ALL BY NAME ".join(parts))


def _check_paths(warehouse: Path, snapshot: Path, link: Path) -> None:
    if not warehouse.is_file():
        raise PublishError(
            f"No warehouse at {warehouse}: nothing to publish yet. Run `ltv run` to load the "
            "landing folder and build the marts first (or check LTV_WAREHOUSE)."
        )
    if snapshot.is_dir():
        raise PublishError(
            f"LTV_MARTS_SNAPSHOT is a folder ({snapshot}); it must name a DuckDB file, e.g. "
            "LTV_MARTS_SNAPSHOT=warehouse/marts.duckdb."
        )
    if snapshot.resolve() == warehouse.resolve():
        raise PublishError(
            f"LTV_MARTS_SNAPSHOT and LTV_WAREHOUSE are the same file ({warehouse}); the snapshot "
            "must be a separate file, e.g. LTV_MARTS_SNAPSHOT=warehouse/marts.duckdb."
        )
    if link.exists() and not link.is_symlink():
        raise PublishError(
            f"{link} is a real folder, but publishing replaces it through a symlink it manages. "
            "Move that folder elsewhere and publish again."
        )


def _write_snapshot(
    settings: Settings, new_db: Path, parquet_dir: Path, refresh: Collection[str]
) -> tuple[dict[str, int], bool]:
    """Copy the marts into the new file `new_db`, then export its tables to `parquet_dir`.

    After an incremental build the previous snapshot is patched instead when it is the previous
    build's, and the snapshot of this build when only `refresh` changed
    (pipeline/snapshot_patch.py). The copy runs in one transaction and the Parquet
    files are written from the copy, so the DuckDB file and the Parquet files hold the same
    data. Returns rows per table and whether it patched. Memory is bounded like every other
    DuckDB process of the pipeline (LTV_MEMORY_LIMIT): unbounded, publishing a 10M-row
    seller's marts took 4.6 GiB.
    """
    config = {"memory_limit": settings.memory_limit, "temp_directory": f"{new_db}.tmp"}
    with duckdb.connect(config=config) as con:
        _attach_warehouse(con, settings.warehouse)
        snapshot = settings.marts_snapshot
        patch = plan_refresh(con, snapshot, refresh) if refresh else plan_patch(con, snapshot)
        if patch:
            start_from_previous(patch, new_db)
        con.execute(f"ATTACH {_literal(new_db)} AS snap")
        tables = _mart_tables(con, settings.warehouse)
        con.execute("BEGIN")
        for table in tables:
            if patch and table in patch.changed:
                patch_mart(con, table)
            elif not (patch and patch.unchanged(table)):
                target = f"snap.main.{_ident(table)}"
                con.execute(f"CREATE OR REPLACE TABLE {target} AS {_select_mart(table)}")
        _copy_comments(con)
        con.execute("COMMIT")
        rows = _export_parquet(con, tables, parquet_dir, patch)
        con.execute("DETACH snap")  # checkpoints: everything is in new_db, no WAL left
    return rows, patch is not None


def _export_parquet(
    con: duckdb.DuckDBPyConnection, tables: list[str], parquet_dir: Path, patch: Patch | None
) -> dict[str, int]:
    """Write each snapshot table to `<parquet_dir>/<table>.parquet`; return rows per table.

    A mart the patch left as it was keeps its previous file, linked (read-only, never edited).
    """
    parquet_dir.mkdir(parents=True)
    previous = parquet_link(patch.previous).resolve() if patch else None
    rows = {}
    for table in tables:
        source, target = f"snap.main.{_ident(table)}", parquet_dir / f"{table}.parquet"
        kept = previous / f"{table}.parquet" if previous else None
        if patch and patch.unchanged(table) and kept and kept.is_file():
            os.link(kept, target)
        else:
            con.execute(f"COPY {source} TO {_literal(target)} (FORMAT parquet)")
            target.chmod(READ_ONLY_MODE)
        rows[table] = con.execute(f"SELECT count(*) FROM {source}").fetchone()[0]
    return rows


def _attach_warehouse(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    try:
        con.execute(f"ATTACH {_literal(warehouse)} AS wh (READ_ONLY)")
    except duckdb.IOException as exc:
        busy = "lock" in str(exc).lower()
        why = (
            "another process is writing it (a Dagster run or `ltv run`). Publish again when it "
            "has finished."
            if busy
            else "check that LTV_WAREHOUSE is the pipeline's DuckDB warehouse."
        )
        raise PublishError(
            f"Cannot open the warehouse {warehouse} for reading: {why} ({exc})"
        ) from exc


def _mart_tables(con: duckdb.DuckDBPyConnection, warehouse: Path) -> list[str]:
    """Every table and view in schema `marts` of the warehouse, sorted by name."""
    tables = [
        name
        for (name,) in con.execute(
            """SELECT table_name FROM information_schema.tables
               WHERE table_catalog = 'wh' AND table_schema = ? ORDER BY table_name""",
            [MARTS_SCHEMA],
        ).fetchall()
    ]
    if not tables:
        raise PublishError(
            f"The warehouse {warehouse} has no tables in schema `{MARTS_SCHEMA}`: the dbt build "
            "has not produced the marts yet. Run `ltv run` (or materialize the marts in Dagster)."
        )
    return tables


def _select_mart(table: str) -> str:
    return f"SELECT * FROM wh.{_ident(MARTS_SCHEMA)}.{_ident(table)}"


def _copy_comments(con: duckdb.DuckDBPyConnection) -> None:
    """Carry table and column descriptions (dbt's persist_docs) over to the snapshot."""
    described = con.execute(
        """SELECT table_name, comment FROM duckdb_tables()
           WHERE database_name = 'wh' AND schema_name = $1 AND comment IS NOT NULL
           UNION ALL
           SELECT view_name, comment FROM duckdb_views()
           WHERE database_name = 'wh' AND schema_name = $1 AND comment IS NOT NULL""",
        [MARTS_SCHEMA],
    ).fetchall()
    for table, comment in described:
        con.execute(f"COMMENT ON TABLE snap.main.{_ident(table)} IS {_literal(comment)}")
    columns = con.execute(
        """SELECT table_name, column_name, comment FROM duckdb_columns()
           WHERE database_name = 'wh' AND schema_name = ? AND comment IS NOT NULL""",
        [MARTS_SCHEMA],
    ).fetchall()
    for table, column, comment in columns:
        target = f"snap.main.{_ident(table)}.{_ident(column)}"
        con.execute(f"COMMENT ON COLUMN {target} IS {_literal(comment)}")


def _replace_snapshot(new_db: Path, snapshot: Path) -> None:
    """Rename the finished file over the snapshot; readers of the old one keep their copy."""
    if _wal(new_db).exists():
        raise PublishError(f"{new_db} still has a write-ahead log; refusing to publish it.")
    new_db.chmod(READ_ONLY_MODE)
    # A WAL beside the snapshot belongs to the old file; DuckDB would refuse the new one.
    _remove(_wal(snapshot))
    os.replace(new_db, snapshot)


def _swap_link(link: Path, target: Path) -> None:
    """Point `link` at `target` in one atomic rename of a fresh symlink over the old one."""
    fresh = link.with_name(f".{link.name}.{target.name}.link")
    fresh.symlink_to(target.relative_to(link.parent))
    os.replace(fresh, link)


def _prune_versions(link: Path) -> None:
    """Delete Parquet versions older than the newest KEEP_PARQUET_VERSIONS, never the live one."""
    live = link.resolve()
    versions = sorted(p for p in _versions_dir(link).iterdir() if p.resolve() != live)
    for old in versions[: max(len(versions) - (KEEP_PARQUET_VERSIONS - 1), 0)]:
        shutil.rmtree(old, ignore_errors=True)


def _versions_dir(link: Path) -> Path:
    return link.with_name(f".{link.name}.versions")


def _wal(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _literal(value: object) -> str:
    """A SQL string literal (ATTACH, COPY and COMMENT take no bound parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


def _ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'

"""Publishing only what a build changed: patch a copy of the previous snapshot.

An incremental build (docs/incremental.md) replaces some orders' rows of `fct_payments`, some
customers' rows of `dim_customers` and some subscriptions of `dim_subscriptions`, and keeps
the rest. Copying those large marts whole
into every new snapshot would make publishing cost as much as the history again. Instead the
previous snapshot file is copied (a file copy, no SQL), its rows of the recomputed orders and
customers are replaced by the warehouse's, and the small marts, recomputed whole by every build,
are copied whole.

That is only right when the snapshot on disk was published from the build just before this
one, and this build did not recompute everything. Every build's id travels in
`mart_metadata.build_id`; the build state remembers the last two complete builds. When anything
does not line up (no snapshot yet, an older snapshot, a failed build in between, a full
rebuild), publishing copies every mart as before.

The forecast marts are written after the snapshot of their build is published, so a new payment
reaches analysts without waiting for the models to fit. Publishing them is a refresh: the
snapshot of the same build is copied and only the tables named are replaced.
"""

from __future__ import annotations

import shutil
import stat
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import duckdb

# The marts an incremental build patches: per mart, the int_changed_* model naming what the
# build recomputed, its key, and the mart's expression for that key (as the dbt models filter).
PATCHED_MARTS = {
    "fct_payments": ("int_changed_orders", "order_key", "coalesce(order_id, '')"),
    "dim_customers": ("int_changed_customers", "email", "email"),
    "dim_subscriptions": ("int_changed_subscriptions", "subscription_id", "subscription_id"),
}


def _recomputed(table: str) -> str:
    """The filter on `table`'s rows that this build recomputed."""
    model, key, expression = PATCHED_MARTS[table]
    return f"{expression} in (select {key} from wh.intermediate.{model})"


@dataclass(frozen=True)
class Patch:
    """How the previous snapshot becomes the new one: the patched marts whose rows changed,
    and the marts kept exactly as the previous snapshot has them."""

    previous: Path
    changed: frozenset[str]
    kept: frozenset[str]

    def unchanged(self, table: str) -> bool:
        """A mart the new snapshot takes from the previous one as it is."""
        return table in self.kept


def plan_patch(con: duckdb.DuckDBPyConnection, snapshot: Path) -> Patch | None:
    """The patch from the snapshot on disk to the warehouse `wh` attached to `con`, or None
    when every mart must be copied."""
    if not snapshot.is_file():
        return None
    published, _ = snapshot_build(con, snapshot)
    try:
        state = dict(
            con.execute(
                """select split_part(unit, ':', 1), substr(unit, strpos(unit, ':') + 1)
                   from wh.intermediate.ltv_build_state
                   where unit like 'build:%' or unit like 'previous_build:%'"""
            ).fetchall()
        )
        scope = con.execute(
            "select build_id, rebuild_all from wh.intermediate.int_build_scope"
        ).fetchone()
        marts = con.execute("select build_id from wh.marts.mart_metadata").fetchone()
    except duckdb.CatalogException:
        return None  # a warehouse built before incremental builds
    this_build = state.get("build")
    lined_up = (
        published is not None
        and published == state.get("previous_build")
        and scope is not None
        and not scope[1]
        and marts is not None
        and this_build == scope[0] == marts[0]
    )
    if not lined_up:
        return None
    changed = {
        table
        for table, (model, _, _) in PATCHED_MARTS.items()
        if con.execute(f"select count(*) from wh.intermediate.{model}").fetchone()[0]
    }
    return Patch(snapshot, frozenset(changed), frozenset(PATCHED_MARTS) - changed)


def plan_refresh(
    con: duckdb.DuckDBPyConnection, snapshot: Path, tables: Collection[str]
) -> Patch | None:
    """The patch that replaces only `tables` in the snapshot on disk, or None when that
    snapshot was not published from the build the warehouse `wh` holds (copy everything)."""
    if not snapshot.is_file():
        return None
    published, published_tables = snapshot_build(con, snapshot)
    try:
        marts = con.execute("select build_id from wh.marts.mart_metadata").fetchone()
    except duckdb.Error:
        return None  # no marts yet, or built before build ids
    if published is None or marts is None or published != marts[0]:
        return None
    return Patch(snapshot, frozenset(), published_tables - frozenset(tables))


def snapshot_build(
    con: duckdb.DuckDBPyConnection, snapshot: Path
) -> tuple[str | None, frozenset[str]]:
    """The build id the snapshot was published from (None for an unreadable or older one),
    and its tables."""
    try:
        path = str(snapshot).replace("'", "''")
        con.execute(f"attach '{path}' as previous_snapshot (read_only)")
    except duckdb.Error:
        return None, frozenset()
    try:
        tables = con.execute(
            """select table_name from information_schema.tables
               where table_catalog = 'previous_snapshot' and table_schema = 'main'"""
        ).fetchall()
        row = con.execute("select build_id from previous_snapshot.main.mart_metadata").fetchone()
    except duckdb.Error:
        tables, row = [], None
    finally:
        con.execute("detach previous_snapshot")
    return (row[0] if row else None), frozenset(name for (name,) in tables)


def start_from_previous(patch: Patch, new_db: Path) -> None:
    """Copy the previous snapshot to `new_db`, writable, as the base to patch."""
    shutil.copyfile(patch.previous, new_db)
    new_db.chmod(new_db.stat().st_mode | stat.S_IWUSR)


def patch_mart(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Replace the recomputed rows of `table` in the snapshot `snap` by the warehouse's."""
    where = _recomputed(table)
    con.execute(f"delete from snap.main.{table} where {where}")
    con.execute(f"insert into snap.main.{table} select * from wh.marts.{table} where {where}")

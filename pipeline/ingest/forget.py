"""Undo a drop: a loaded export whose file is gone from the landing folder leaves raw too.

A bad export must never poison every later build, and fixing it must not need SQL: the user
removes the file (or runs `ltv forget FILE`), and the next run removes its rows.

The rule, per loaded content (one row of `raw.landing_files`):
- it is **present** while its file is at the path the ledger remembers, or, when the ledger
  says it was archived (`LTV_ARCHIVE_DIR`), while the archived copy exists;
- a content not present that sits in the landing folder under another name (renamed or moved,
  or a copy) is **moved**: the ledger follows it and its rows stay. Only files at paths the
  ledger does not know are hashed to find it, so a run does not re-read every export;
- anything else is **gone**: its rows, its rejected rows and its ledger entry are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipeline.ingest.input_formats import INPUT_TABLES
from pipeline.ingest.landing import file_sha256, scan_landing
from pipeline.ingest.rejection import FileRejected, move_to_rejected
from pipeline.warehouse import (
    LANDING_FILES_TABLE,
    REJECTED_ROWS_TABLE,
    SUBSCRIPTIONS_TABLE,
    TRANSACTIONS_TABLE,
)


@dataclass(frozen=True)
class LoadedFile:
    """One loaded content, as the ledger has it."""

    sha256: str
    path: str
    export: str
    archived_to: str | None
    rows: int
    loaded_at: datetime

    def present(self, landing_dir: Path) -> bool:
        """Whether the file is where the ledger says (or its archived copy is)."""
        if self.archived_to:
            return Path(self.archived_to).is_file()
        return (landing_dir / self.path).is_file()


def loaded_files(con: duckdb.DuckDBPyConnection) -> list[LoadedFile]:
    """Every loaded content, oldest first."""
    rows = con.execute(
        f"SELECT sha256, path, export, archived_to, rows, loaded_at FROM {LANDING_FILES_TABLE} "
        "ORDER BY loaded_at, path"
    ).fetchall()
    return [LoadedFile(*row) for row in rows]


def find_moved(
    missing: list[LoadedFile], landing_dir: Path, known_paths: set[str]
) -> dict[str, str]:
    """sha256 -> new path of the missing contents that sit elsewhere in the landing folder."""
    wanted = {file.sha256 for file in missing}
    moved: dict[str, str] = {}
    for file in scan_landing(landing_dir).files:
        if file.rel_path in known_paths or len(moved) == len(wanted):
            continue
        try:
            sha256 = file_sha256(file.path)
        except OSError:
            continue
        if sha256 in wanted and sha256 not in moved:
            moved[sha256] = file.rel_path
    return moved


def forget(con: duckdb.DuckDBPyConnection, sha256: str) -> int:
    """Delete one content's raw rows, rejected rows and ledger entry; the raw rows deleted."""
    removed = 0
    for table in (TRANSACTIONS_TABLE, SUBSCRIPTIONS_TABLE, *INPUT_TABLES.values()):
        removed += con.execute(f"DELETE FROM {table} WHERE _file_sha256 = ?", [sha256]).fetchone()[
            0
        ]
    con.execute(f"DELETE FROM {REJECTED_ROWS_TABLE} WHERE file_sha256 = ?", [sha256])
    con.execute(f"DELETE FROM {LANDING_FILES_TABLE} WHERE sha256 = ?", [sha256])
    return removed


@dataclass(frozen=True)
class Forgotten:
    """A content removed from raw: where it was loaded from and how many rows went."""

    sha256: str
    path: str
    export: str
    rows: int


class NotLoaded(ValueError):
    """A file named to be forgotten is not in the ledger; the message says what to do."""


def resolve(loaded: list[LoadedFile], target: str) -> LoadedFile:
    """The loaded content `target` names: its path in the landing folder, or a SHA-256 prefix
    of at least 8 characters."""
    by_path = [f for f in loaded if f.path == target.strip().lstrip("./")]
    prefix = target.strip().lower()
    by_hash = [f for f in loaded if len(prefix) >= 8 and f.sha256.startswith(prefix)]
    if len(by_path + by_hash) == 1:
        return (by_path + by_hash)[0]
    problem = "names several loaded files" if by_path + by_hash else "is not a loaded file"
    raise NotLoaded(
        f"{target!r} {problem}: name it by its path in the landing folder or by a longer "
        "SHA-256 prefix, as `ltv forget --list` shows them."
    )


def _forget_all(con: duckdb.DuckDBPyConnection, files: list[LoadedFile]) -> list[Forgotten]:
    con.execute("BEGIN TRANSACTION")
    try:
        forgotten = [Forgotten(f.sha256, f.path, f.export, forget(con, f.sha256)) for f in files]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return forgotten


def forget_files(
    con: duckdb.DuckDBPyConnection, landing_dir: Path, rejected_dir: Path, targets: list[str]
) -> list[Forgotten]:
    """Forget the named loaded files now (NotLoaded, before any change, if one is unknown).

    A named file still in the landing folder moves to `rejected_dir` with a note, so that it
    is not loaded again by the next run.
    """
    loaded = loaded_files(con)
    chosen = list({f.sha256: f for f in (resolve(loaded, t) for t in targets)}.values())
    reason = FileRejected(
        "it was forgotten on request: its rows were removed from the warehouse.",
        "Drop it into the landing folder again to load it again.",
    )
    for file in chosen:
        if not file.archived_to and (landing_dir / file.path).is_file():
            move_to_rejected(landing_dir / file.path, file.path, rejected_dir, reason, file.sha256)
    return _forget_all(con, chosen)


def forget_gone(con: duckdb.DuckDBPyConnection, landing_dir: Path) -> list[Forgotten]:
    """Apply the rule of this module to every loaded content: follow the moved ones, forget
    the gone ones (in one transaction)."""
    loaded = loaded_files(con)
    missing = [file for file in loaded if not file.present(landing_dir)]
    if not missing:
        return []
    moved = find_moved(missing, landing_dir, {file.path for file in loaded})
    for sha256, path in moved.items():
        con.execute(
            f"UPDATE {LANDING_FILES_TABLE} SET path = ?, archived_to = NULL WHERE sha256 = ?",
            [path, sha256],
        )
    return _forget_all(con, [file for file in missing if file.sha256 not in moved])

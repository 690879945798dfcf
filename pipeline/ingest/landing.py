"""The landing folder: which files are there, which are ready, which are new since last time.

A scan only stats files (cheap for tens of thousands); reading and hashing is kept for the few
that are new. "New" comes from a small cursor, not from remembering every file: each file's
change time (the later of mtime and ctime, because a rename or copy into the folder updates
ctime even when the mtime is old) is compared with a high-water mark, and a folder not seen
before makes everything in it new (moving a whole folder in keeps its files' times).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.ingest.headers import SUBSCRIPTIONS, TRANSACTIONS
from pipeline.ingest.input_formats import INPUT_FOLDERS, header_format, input_folder, read_head
from pipeline.ingest.rejection import FileRejected
from pipeline.ingest.sniff import read_export_head

# Browsers and copy tools write under these names and rename when done.
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload")
# A file changed this recently may still be being written: it waits for a later tick.
SETTLE_SECONDS = 5.0
# `ltv run` does not wait for ticks: it watches such files until they stay unchanged this
# long, for at most WRITE_WAIT_SECONDS.
QUIET_SECONDS = 1.0
WRITE_WAIT_SECONDS = 30.0
# Owned by the pipeline, not by the user: never scanned.
RESERVED_DIRS = frozenset({"webhooks", "rejected"})
# Documentation and OS litter that can sit in the folder without being an export.
IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})
IGNORED_SUFFIXES = (".md",)
# Where a folder declares what the header cannot: which subscriptions a Subscriptions export holds.
FOLDER_KINDS = {
    ("orders",): "orders",
    ("subscriptions", "recurring"): "recurring",
    ("subscriptions", "limited"): "limited",
}
# Bounds on one sensor tick's reading and hashing; the rest waits for the next tick.
MAX_FILES_PER_TICK = 200
MAX_BYTES_PER_TICK = 1 << 30
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class LandingFile:
    """One file under the landing folder, as a scan saw it."""

    path: Path
    rel_path: str
    dir: str  # relative to the landing folder, "." for the folder itself
    size: int
    mtime_ns: int
    changed_ns: int

    @property
    def folder_kind(self) -> str | None:
        """`orders`, `recurring` or `limited` from the folder the file sits in, else None."""
        return folder_kind(self.rel_path)


@dataclass(frozen=True)
class LandingScan:
    """Every candidate file and every folder under the landing folder."""

    files: list[LandingFile]
    dirs: frozenset[str]


def folder_kind(rel_path: str) -> str | None:
    """The kind a file's folder declares (see FOLDER_KINDS), matched case-insensitively."""
    parts = tuple(p.lower() for p in Path(rel_path).parts[:-1])
    for prefix, kind in FOLDER_KINDS.items():
        if parts[: len(prefix)] == prefix:
            return kind
    return None


def _ignored(name: str) -> bool:
    lowered = name.lower()
    return (
        name.startswith((".", "_"))
        or lowered in IGNORED_NAMES
        or lowered.endswith(IGNORED_SUFFIXES + PARTIAL_SUFFIXES)
    )


def scan_landing(landing_dir: Path, skip: Collection[str] = ()) -> LandingScan:
    """Stat every file that could be an export (skipping reserved, hidden and partial ones,
    and the top-level folders in `skip`)."""
    skipped = RESERVED_DIRS | set(skip)
    files: list[LandingFile] = []
    dirs: set[str] = set()
    pending = [(landing_dir, ".")]
    while pending:
        directory, rel_dir = pending.pop()
        dirs.add(rel_dir)
        try:
            entries = list(os.scandir(directory))
        except OSError:  # vanished or unreadable: nothing in it can be loaded now
            continue
        for entry in entries:
            if _ignored(entry.name) or (rel_dir == "." and entry.name in skipped):
                continue
            rel_path = entry.name if rel_dir == "." else f"{rel_dir}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                pending.append((Path(entry.path), rel_path))
            elif entry.is_file() and (file := _landing_file(entry, rel_path, rel_dir)):
                files.append(file)
    return LandingScan(files=files, dirs=frozenset(dirs))


def outside_accounts(landing_dir: Path, accounts: Collection[str]) -> list[str]:
    """Files in the landing folder but in no account's subfolder (LTV_ACCOUNTS): no
    pipeline loads them, so they are reported instead of being left silently."""
    return sorted(f.rel_path for f in scan_landing(landing_dir, skip=accounts).files)


def _landing_file(entry: os.DirEntry[str], rel_path: str, rel_dir: str) -> LandingFile | None:
    try:
        st = entry.stat()
    except OSError:
        return None
    return LandingFile(
        path=Path(entry.path),
        rel_path=rel_path,
        dir=rel_dir,
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        changed_ns=max(st.st_mtime_ns, st.st_ctime_ns),
    )


def is_settled(file: LandingFile, now_ns: int, settle_seconds: float = SETTLE_SECONDS) -> bool:
    """True when the file has not been modified for `settle_seconds`."""
    return now_ns - file.mtime_ns >= settle_seconds * 1e9


@dataclass(frozen=True)
class LandingCursor:
    """What the landing sensor has already looked at, in a few hundred bytes.

    Files are taken in (change time, path) order. In folders seen before, files changed at or
    before `changed_ns` were taken, except those at exactly `changed_ns` missing from `at_mark`
    (a coarse clock can give several files one time). A folder not in `dirs` is new, so all its
    files are new whatever their times; `progress` holds, for such a folder still being worked
    through, the (change time, path) of the last file taken from it.
    """

    changed_ns: int = 0
    at_mark: frozenset[str] = field(default_factory=frozenset)
    dirs: frozenset[str] = field(default_factory=frozenset)
    progress: dict[str, tuple[int, str]] = field(default_factory=dict)

    def is_new(self, file: LandingFile) -> bool:
        if file.dir not in self.dirs:
            done = self.progress.get(file.dir)
            return done is None or _change_order(file) > done
        if file.changed_ns != self.changed_ns:
            return file.changed_ns > self.changed_ns
        return file.rel_path not in self.at_mark

    def to_json(self) -> str:
        return json.dumps(
            {
                "changed_ns": self.changed_ns,
                "at_mark": sorted(self.at_mark),
                "dirs": sorted(self.dirs),
                "progress": self.progress,
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> LandingCursor:
        """Parse a stored cursor; a missing one means nothing has been seen yet."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            changed_ns=data["changed_ns"],
            at_mark=frozenset(data["at_mark"]),
            dirs=frozenset(data["dirs"]),
            progress={d: (ns, path) for d, (ns, path) in data["progress"].items()},
        )


def select_new(
    scan: LandingScan,
    cursor: LandingCursor,
    now_ns: int,
    *,
    max_files: int = MAX_FILES_PER_TICK,
    max_bytes: int = MAX_BYTES_PER_TICK,
) -> tuple[list[LandingFile], LandingCursor]:
    """The next batch of new, settled files (oldest change first) and the cursor after it.

    Stops at the first file still being written, so the cursor never passes it, and at the
    per-tick bounds; whatever is left is picked up by the next call.
    """
    candidates = sorted((f for f in scan.files if cursor.is_new(f)), key=_change_order)
    batch: list[LandingFile] = []
    total = 0
    for file in candidates:
        if not is_settled(file, now_ns):
            break
        if batch and (len(batch) >= max_files or total + file.size > max_bytes):
            break
        batch.append(file)
        total += file.size
    return batch, _advance(cursor, scan, batch, candidates[len(batch) :])


def _change_order(file: LandingFile) -> tuple[int, str]:
    return file.changed_ns, file.rel_path


def _advance(
    cursor: LandingCursor, scan: LandingScan, batch: list[LandingFile], left: list[LandingFile]
) -> LandingCursor:
    mark = max([cursor.changed_ns, *(f.changed_ns for f in batch)])
    at_mark = {f.rel_path for f in batch if f.changed_ns == mark}
    if mark == cursor.changed_ns:
        at_mark |= cursor.at_mark
    # A new folder counts as seen once none of its files is left waiting.
    waiting = {f.dir for f in left if f.dir not in cursor.dirs}
    progress = {d: p for d, p in cursor.progress.items() if d in waiting}
    for file in batch:  # in change order: the last one per folder wins
        if file.dir in waiting:
            progress[file.dir] = _change_order(file)
    return LandingCursor(mark, frozenset(at_mark), frozenset(scan.dirs - waiting), progress)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's content, read in chunks (the partition key of a landing file)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def export_for(file: LandingFile) -> str:
    """Which raw table a file is for, from its header; a file that is no export at all is
    routed by its folder, so its failed run (and rejection) shows on the asset one expects.
    A file in an input folder (costs/, ad_spend/, fx_rates/) is never an export; its header
    lines say which input it is."""
    if folder := input_folder(file.rel_path):
        try:
            return header_format(read_head(file.path), INPUT_FOLDERS[folder]).export
        except (FileRejected, OSError):
            return INPUT_FOLDERS[folder][0]
    try:
        return read_export_head(file.path).match.export
    except FileRejected:
        return SUBSCRIPTIONS if file.folder_kind in ("recurring", "limited") else TRANSACTIONS


@dataclass(frozen=True)
class PendingFile:
    """A landing file to load: its content hash (the partition key) and its raw table."""

    file: LandingFile
    sha256: str
    export: str


def describe_new(files: Iterable[LandingFile], known: Collection[str]) -> list[PendingFile]:
    """Hash and route `files`, dropping content already known (and repeats within `files`).

    Files that vanish or cannot be read in the meantime are skipped: a later change to them
    (a fixed permission, a new copy) brings them back as new.
    """
    pending: list[PendingFile] = []
    seen = set(known)
    for file in files:
        try:
            sha256 = file_sha256(file.path)
            if sha256 not in seen:
                pending.append(PendingFile(file, sha256, export_for(file)))
                seen.add(sha256)
        except OSError:
            continue
    return pending


def find_content(landing_dir: Path, sha256: str) -> LandingFile | None:
    """The landing file that holds this content, wherever it now is (hashes every file)."""
    for file in scan_landing(landing_dir).files:
        try:
            if file_sha256(file.path) == sha256:
                return file
        except OSError:
            continue
    return None


def pending_files(
    landing_dir: Path, known: Collection[str], now_ns: int, skip: Collection[str] = ()
) -> list[PendingFile]:
    """Every settled landing file whose content is not in `known`, without any cursor.

    What the landing sensor would eventually request, in one go: for `ltv run`, with `known`
    the hashes already loaded (see `pipeline.ingest.csv_load.loaded_hashes`) and `skip` the
    paths of files still being written.
    """
    scan = scan_landing(landing_dir)
    settled = sorted(
        (f for f in scan.files if is_settled(f, now_ns) and f.rel_path not in skip),
        key=_change_order,
    )
    return describe_new(settled, known)


def _signatures(landing_dir: Path) -> dict[str, tuple[int, int]]:
    return {f.rel_path: (f.size, f.mtime_ns) for f in scan_landing(landing_dir).files}


def wait_for_writes(
    landing_dir: Path,
    *,
    quiet_seconds: float = QUIET_SECONDS,
    timeout: float = WRITE_WAIT_SECONDS,
    on_wait: Callable[[list[str]], None] = lambda paths: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[str]:
    """Wait while recently changed files are still being written; return those that still are.

    A file changed within the sensor's settle time is watched until its size and mtime stay
    the same for `quiet_seconds`. `on_wait` is told which files it waits for (once, before the
    first wait). After `timeout` the paths still changing are returned: the caller reports
    them as not loaded instead of loading half a file. Files that vanish stop being watched.
    """
    now_ns = time.time_ns()
    watched = {
        f.rel_path: (f.size, f.mtime_ns)
        for f in scan_landing(landing_dir).files
        if not is_settled(f, now_ns)
    }
    if watched:
        on_wait(sorted(watched))
    deadline = clock() + timeout
    while watched and clock() < deadline:
        sleep(quiet_seconds)
        now = _signatures(landing_dir)
        watched = {p: now[p] for p in watched if p in now and now[p] != watched[p]}
    return sorted(watched)

"""One `ltv run` at a time per warehouse, refused at once rather than racing.

Two runs at once used to collide in Dagster's storage set-up (a long SQLAlchemy traceback) or
both claim the same file. An OS file lock is released by the kernel when its process ends, so
a crashed run never leaves a stale lock; the file holds the holder's PID and start time only
for the message.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path


class RunLocked(RuntimeError):
    """Another `ltv run` holds the lock; the message names it."""


def lock_path(warehouse: Path) -> Path:
    """The lock file of the runs on `warehouse`, beside it."""
    return warehouse.with_name(f".{warehouse.name}.run.lock")


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold the run lock for the `with` block, or raise RunLocked at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(_held_by(path)) from None
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {started}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def _held_by(path: Path) -> str:
    try:
        pid, _, started = path.read_text().strip().partition(" ")
    except OSError:
        pid, started = "", ""
    who = f"another ltv run (PID {pid})" if pid else "another ltv run"
    since = f" is running since {started}" if started else " is running"
    return f"{who}{since} on this warehouse; wait for it to finish, or stop it, then run again."

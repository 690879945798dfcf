"""The webhook log: UTC-day segments of JSON lines, one writer with group commit, safe readers.

The sidecar acknowledges ThriveCart only once a delivery's line is on disk, so this module is
where "acknowledged" becomes "durable". Layout and reader API are fixed in docs/interfaces.md:
`<log_dir>/thrivecart-YYYY-MM-DD.jsonl`, one `\\n`-terminated JSON object per line.

A crash can leave a torn last line (bytes without their newline). Readers never yield it; a
writer that opens a segment first terminates it with `\\n`, so the torn bytes become a line of
their own (which the loader rejects) and every new line starts clean. One writer per log dir,
enforced with an advisory lock, keeps those guarantees true.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

_SEGMENT_NAME = re.compile(r"^thrivecart-(\d{4}-\d{2}-\d{2})\.jsonl$")
LOCK_NAME = ".writer.lock"


def segment_path(log_dir: Path, day: date) -> Path:
    """The segment file that holds the lines received on UTC `day`."""
    return log_dir / f"thrivecart-{day.isoformat()}.jsonl"


def segment_day(path: Path) -> date:
    """The UTC day of a segment, from its file name; ValueError for any other file."""
    match = _SEGMENT_NAME.match(path.name)
    if match is None:
        raise ValueError(
            f"{path.name!r} is not a webhook log segment (thrivecart-YYYY-MM-DD.jsonl)"
        )
    return date.fromisoformat(match.group(1))


def list_segments(log_dir: Path) -> list[Path]:
    """Every segment in `log_dir`, oldest day first; other files are ignored."""
    if not log_dir.is_dir():
        return []
    segments = [p for p in log_dir.iterdir() if _SEGMENT_NAME.match(p.name) and p.is_file()]
    return sorted(segments, key=segment_day)


def iter_complete_lines(path: Path, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield `(offset, line)` for each newline-terminated line from byte `start` on.

    The line is returned without its newline. A last line still missing its newline is being
    written (or was torn by a crash) and is not yielded: resume later from the offset after the
    last yielded line. A `start` that is not a line start is a corrupt cursor: ValueError.
    """
    with path.open("rb") as f:
        _check_start(f, path, start)
        f.seek(start)
        offset = start
        for line in f:
            if not line.endswith(b"\n"):
                return
            yield offset, line[:-1]
            offset += len(line)


def read_complete_lines(path: Path) -> tuple[list[bytes], int]:
    """Every newline-terminated line of a whole segment (without newlines), and the offset
    after the last one.

    The bulk form of `iter_complete_lines` for loaders, which read a day at once: one read and
    one split instead of a Python step per line. A torn last line is left out, as there.
    """
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    return data[:end].split(b"\n")[:-1], end


def _check_start(f: BinaryIO, path: Path, start: int) -> None:
    size = f.seek(0, os.SEEK_END)
    if start < 0 or start > size:
        raise ValueError(f"offset {start} is outside {path} ({size} bytes): was it replaced?")
    if start > 0:
        f.seek(start - 1)
        if f.read(1) != b"\n":
            raise ValueError(f"offset {start} in {path} is not the start of a line")


class LogLockedError(RuntimeError):
    """Another process (a running sidecar, or a replay) is writing the same log dir."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(path: Path) -> None:
    """Make a newly created file's directory entry durable, not just its contents."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentAppender:
    """The single writer of one log dir: appends batches of lines, one fsync per segment.

    Blocking and not thread-safe: the sidecar drives it from one executor thread
    (:class:`GroupCommitLog`), an offline replay calls it directly. Use as a context manager;
    entering takes the dir's lock (LogLockedError if another writer holds it) and creates the dir.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._lock_fd: int | None = None
        self._day: date | None = None
        self._fd: int | None = None

    def __enter__(self) -> SegmentAppender:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.log_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise LogLockedError(
                f"{self.log_dir} is already being written by process {holder} (a running "
                "`ltv webhooks serve`?). Stop it first, or send to it with `replay --url`."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close_segment()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def append_batch(self, lines: Sequence[tuple[date, bytes]]) -> None:
        """Append each `(day, line)` to that day's segment; return once all are fsync'd.

        Lines come without their newline and must not contain one. On OSError nothing is
        promised about this batch (some lines may be on disk: the delivery id makes a retried
        delivery a harmless duplicate) and the segment is reopened by the next call.
        """
        if self._lock_fd is None:
            raise RuntimeError("SegmentAppender used outside its `with` block")
        by_day: dict[date, list[bytes]] = {}
        for day, line in lines:
            if b"\n" in line:
                raise ValueError("a log line must not contain a newline")
            by_day.setdefault(day, []).append(line)
        try:
            for day, day_lines in by_day.items():
                fd = self._segment_fd(day)
                _write_all(fd, b"\n".join(day_lines) + b"\n")
                os.fsync(fd)
        except OSError:
            self._close_segment()
            raise

    def check(self, day: date) -> None:
        """Open (or re-verify) the segment for `day`; OSError when it cannot be written."""
        try:
            self._segment_fd(day)
        except OSError:
            self._close_segment()
            raise

    def _segment_fd(self, day: date) -> int:
        path = segment_path(self.log_dir, day)
        if self._fd is not None and self._day == day and self._still_at(path, self._fd):
            return self._fd
        self._close_segment()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                _write_all(fd, b"\n")  # a crash tore the last line: start on a clean one
            if created:
                _fsync_dir(self.log_dir)
        except OSError:
            os.close(fd)
            raise
        self._fd, self._day = fd, day
        return fd

    @staticmethod
    def _still_at(path: Path, fd: int) -> bool:
        """False when the open file was moved or deleted: its lines would be lost to readers."""
        try:
            on_disk = os.stat(path)
        except FileNotFoundError:
            return False
        opened = os.fstat(fd)
        return (on_disk.st_dev, on_disk.st_ino) == (opened.st_dev, opened.st_ino)

    def _close_segment(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = self._day = None


class GroupCommitLog:
    """Group commit for the asyncio server: one fsync for every line waiting.

    Request handlers `await append(...)`; one task hands everything queued to a single writer
    thread, which writes it and fsyncs once, then wakes every waiter (or fails them all with
    the OSError). While one batch is on its way to disk the next one gathers, so the fsync
    cost is shared by every concurrent request and throughput holds under load.
    """

    def __init__(self, appender: SegmentAppender) -> None:
        self._appender = appender
        self._pending: list[tuple[date, bytes, asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.batches = 0
        self.lines = 0
        self.failed_batches = 0

    async def __aenter__(self) -> GroupCommitLog:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="webhook-log")
        self._task = asyncio.create_task(self._run(), name="webhook-log-group-commit")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Write whatever is still queued, then stop the writer thread."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def append(self, day: date, line: bytes) -> None:
        """Return once `line` is in `day`'s segment and fsync'd; raise OSError if it is not."""
        if self._closing or self._task is None or self._task.done():
            raise OSError("the webhook log is not open")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((day, line, future))
        self._wakeup.set()
        await future

    async def check(self, day: date) -> None:
        """Verify that `day`'s segment can be opened for writing, in line with queued writes."""
        if self._executor is None:
            raise OSError("the webhook log is not open")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._appender.check, day)

    def stats(self) -> dict[str, int]:
        """Counters for /metrics: lines per batch shows group commit at work."""
        return {"batches": self.batches, "lines": self.lines, "failed_batches": self.failed_batches}

    async def _run(self) -> None:
        while self._pending or not self._closing:
            if not self._pending:
                await self._wakeup.wait()
                self._wakeup.clear()
                continue
            batch, self._pending = self._pending, []
            await self._commit(batch)

    async def _commit(self, batch: list[tuple[date, bytes, asyncio.Future[None]]]) -> None:
        loop = asyncio.get_running_loop()
        lines = [(day, line) for day, line, _ in batch]
        try:
            await loop.run_in_executor(self._executor, self._appender.append_batch, lines)
        except Exception as exc:  # every waiter must hear about it, whatever it is
            self.failed_batches += 1
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.lines += len(batch)
        for *_, future in batch:
            if not future.done():
                future.set_result(None)

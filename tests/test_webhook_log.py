"""The webhook log: segment names, the torn-line-safe reader, the writer and its group commit."""

from __future__ import annotations

import asyncio
import errno
import json
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

from pipeline.webhook_log import (
    GroupCommitLog,
    LogLockedError,
    SegmentAppender,
    iter_complete_lines,
    list_segments,
    read_complete_lines,
    segment_day,
    segment_path,
)

DAY = date(2026, 11, 28)
NEXT_DAY = date(2026, 11, 29)


def lines_of(path: Path) -> list[bytes]:
    return [line for _, line in iter_complete_lines(path)]


def test_segment_names_round_trip_and_other_files_are_ignored(tmp_path: Path) -> None:
    path = segment_path(tmp_path, DAY)
    assert path == tmp_path / "thrivecart-2026-11-28.jsonl"
    assert segment_day(path) == DAY
    with pytest.raises(ValueError, match="not a webhook log segment"):
        segment_day(tmp_path / "notes.txt")
    for day in (NEXT_DAY, DAY):
        segment_path(tmp_path, day).write_bytes(b"")
    (tmp_path / ".writer.lock").write_text("1")
    (tmp_path / "thrivecart-2026-11-30.jsonl.tmp").write_text("")
    assert list_segments(tmp_path) == [
        segment_path(tmp_path, DAY),
        segment_path(tmp_path, NEXT_DAY),
    ]
    assert list_segments(tmp_path / "missing") == []


def test_reader_yields_offsets_and_never_a_line_without_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "thrivecart-2026-11-28.jsonl"
    path.write_bytes(b'{"a":1}\n\n{"b":2}\n{"torn"')
    assert list(iter_complete_lines(path)) == [(0, b'{"a":1}'), (8, b""), (9, b'{"b":2}')]
    assert list(iter_complete_lines(path, start=9)) == [(9, b'{"b":2}')]
    assert list(iter_complete_lines(path, start=17)) == []  # resume point before the torn line
    with path.open("ab") as f:
        f.write(b":1}\n")  # the writer finishes the line
    assert list(iter_complete_lines(path, start=17)) == [(17, b'{"torn":1}')]


def test_bulk_reader_returns_what_the_line_reader_yields(tmp_path: Path) -> None:
    path = tmp_path / "thrivecart-2026-11-28.jsonl"
    path.write_bytes(b'{"a":1}\n\n{"b":"\xc3\xab"}\n{"torn"')
    assert read_complete_lines(path) == ([b'{"a":1}', b"", b'{"b":"\xc3\xab"}'], 20)
    assert [line for _, line in iter_complete_lines(path)] == read_complete_lines(path)[0]
    path.write_bytes(b'{"torn"')
    assert read_complete_lines(path) == ([], 0)


@pytest.mark.parametrize(("start", "message"), [(3, "not the start of a line"), (99, "outside")])
def test_reader_refuses_a_cursor_that_cannot_be_right(tmp_path: Path, start: int, message: str):
    path = tmp_path / "thrivecart-2026-11-28.jsonl"
    path.write_bytes(b'{"a":1}\n')
    with pytest.raises(ValueError, match=message):
        list(iter_complete_lines(path, start=start))


def test_appender_writes_whole_lines_per_day(tmp_path: Path) -> None:
    with SegmentAppender(tmp_path / "webhooks") as appender:
        appender.append_batch([(DAY, b'{"n":1}'), (NEXT_DAY, b'{"n":2}'), (DAY, b'{"n":3}')])
        appender.append_batch([(NEXT_DAY, b'{"n":4}')])
    assert lines_of(segment_path(tmp_path / "webhooks", DAY)) == [b'{"n":1}', b'{"n":3}']
    assert lines_of(segment_path(tmp_path / "webhooks", NEXT_DAY)) == [b'{"n":2}', b'{"n":4}']


def test_appender_refuses_a_line_with_a_newline(tmp_path: Path) -> None:
    with SegmentAppender(tmp_path) as appender, pytest.raises(ValueError, match="newline"):
        appender.append_batch([(DAY, b'{"a":\n1}')])
    assert not segment_path(tmp_path, DAY).exists()


def test_restarted_writer_terminates_a_torn_last_line_first(tmp_path: Path) -> None:
    path = segment_path(tmp_path, DAY)
    path.write_bytes(b'{"n":1}\n{"n":2')  # a crash mid-append
    with SegmentAppender(tmp_path) as appender:
        appender.append_batch([(DAY, b'{"n":3}')])
    assert lines_of(path) == [b'{"n":1}', b'{"n":2', b'{"n":3}']


def test_one_writer_per_log_dir(tmp_path: Path) -> None:
    with SegmentAppender(tmp_path), pytest.raises(LogLockedError, match=str(os.getpid())):
        SegmentAppender(tmp_path).__enter__()
    with SegmentAppender(tmp_path) as appender:  # released on exit
        appender.append_batch([(DAY, b"{}")])


def test_a_moved_segment_is_not_written_behind_the_readers_back(tmp_path: Path) -> None:
    path = segment_path(tmp_path, DAY)
    with SegmentAppender(tmp_path) as appender:
        appender.append_batch([(DAY, b'{"n":1}')])
        path.rename(tmp_path / "archived.jsonl")
        appender.append_batch([(DAY, b'{"n":2}')])
    assert lines_of(path) == [b'{"n":2}']
    assert lines_of(tmp_path / "archived.jsonl") == [b'{"n":1}']


def test_an_unwritable_log_dir_raises_then_recovers(tmp_path: Path) -> None:
    """A regular file where the log dir should be fails for root too (chmod would not)."""
    log_dir = tmp_path / "webhooks"
    with SegmentAppender(log_dir) as appender:
        appender.append_batch([(DAY, b'{"n":1}')])
        log_dir.rename(tmp_path / "aside")
        log_dir.write_text("not a directory")
        with pytest.raises(OSError):
            appender.append_batch([(DAY, b'{"n":2}')])
        with pytest.raises(OSError):
            appender.check(DAY)
        log_dir.unlink()
        (tmp_path / "aside").rename(log_dir)
        appender.check(DAY)
        appender.append_batch([(DAY, b'{"n":3}')])
    assert lines_of(segment_path(log_dir, DAY)) == [b'{"n":1}', b'{"n":3}']


class CountingAppender(SegmentAppender):
    """Records each batch; fails with ENOSPC while `disk_full` is set."""

    def __init__(self, log_dir: Path) -> None:
        super().__init__(log_dir)
        self.batch_sizes: list[int] = []
        self.disk_full = False

    def append_batch(self, lines: Sequence[tuple[date, bytes]]) -> None:
        if self.disk_full:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.batch_sizes.append(len(lines))
        super().append_batch(lines)


def test_group_commit_writes_every_waiting_line_with_one_fsync(tmp_path: Path) -> None:
    async def scenario(appender: CountingAppender) -> None:
        async with GroupCommitLog(appender) as log:
            await asyncio.gather(*(log.append(DAY, b'{"n":%d}' % i) for i in range(20)))
            await log.append(DAY, b'{"n":20}')
            assert log.stats() == {"batches": 2, "lines": 21, "failed_batches": 0}

    with CountingAppender(tmp_path) as appender:
        asyncio.run(scenario(appender))
    assert appender.batch_sizes == [20, 1]
    stored = [json.loads(line)["n"] for line in lines_of(segment_path(tmp_path, DAY))]
    assert stored == list(range(21))


def test_group_commit_fails_every_waiter_on_an_io_error_and_keeps_going(tmp_path: Path) -> None:
    async def scenario(appender: CountingAppender) -> None:
        async with GroupCommitLog(appender) as log:
            appender.disk_full = True
            results = await asyncio.gather(
                *(log.append(DAY, b"{}") for _ in range(5)), return_exceptions=True
            )
            assert all(isinstance(r, OSError) and r.errno == errno.ENOSPC for r in results)
            appender.disk_full = False
            await log.append(DAY, b'{"after":1}')
            assert log.stats() == {"batches": 1, "lines": 1, "failed_batches": 1}

    with CountingAppender(tmp_path) as appender:
        asyncio.run(scenario(appender))
    assert lines_of(segment_path(tmp_path, DAY)) == [b'{"after":1}']


def test_group_commit_drains_the_queue_on_close_and_then_refuses(tmp_path: Path) -> None:
    async def scenario(appender: SegmentAppender) -> None:
        log = GroupCommitLog(appender)
        async with log:
            waiters = [asyncio.create_task(log.append(DAY, b'{"n":%d}' % i)) for i in range(3)]
            await asyncio.sleep(0)  # queued, not yet written
        await asyncio.gather(*waiters)
        with pytest.raises(OSError, match="not open"):
            await log.append(DAY, b"{}")

    with SegmentAppender(tmp_path) as appender:
        asyncio.run(scenario(appender))
    assert len(lines_of(segment_path(tmp_path, DAY))) == 3

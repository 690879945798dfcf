"""The landing scan: what counts as a file to load, when it is ready, and the bounded cursor."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from test_ingest_headers import SUBSCRIPTIONS_HEADER, TRANSACTIONS_HEADER

from pipeline.ingest import landing
from pipeline.ingest.headers import SUBSCRIPTIONS, TRANSACTIONS
from pipeline.ingest.landing import (
    LandingCursor,
    describe_new,
    pending_files,
    scan_landing,
    select_new,
)

LATER = 60 * 10**9  # a minute from now: every file written by the test has settled


def _now() -> int:
    return time.time_ns() + LATER


def write(
    root: Path, rel_path: str, header: list[str] = TRANSACTIONS_HEADER, row: str = ""
) -> Path:
    path = root / rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(",".join(header) + "\n" + (row or rel_path) + "\n")
    return path


def names(files: list[landing.LandingFile]) -> list[str]:
    return sorted(f.rel_path for f in files)


def test_scan_finds_exports_anywhere_and_skips_what_is_not_one(tmp_path: Path) -> None:
    for rel in [
        "orders/a.csv",
        "deep/er/b.txt",
        "c",
        "webhooks/thrivecart-2026-01-01.jsonl",
        "rejected/bad.csv",
        "rejected/bad.csv.error.txt",
        "_demo/truth.json",
        ".hidden/x.csv",
        "orders/.~lock.a.csv#",
        "README.md",
        "orders/download.csv.crdownload",
        "orders/copy.csv.part",
        "orders/x.tmp",
        "Thumbs.db",
    ]:
        write(tmp_path, rel)
    scan = scan_landing(tmp_path)
    assert names(scan.files) == ["c", "deep/er/b.txt", "orders/a.csv"]
    assert {".", "orders", "deep", "deep/er"} <= scan.dirs
    assert "webhooks" not in scan.dirs and "_demo" not in scan.dirs


def test_a_file_still_being_written_waits_and_the_cursor_does_not_pass_it(tmp_path: Path) -> None:
    write(tmp_path, "orders/old.csv")
    os.utime(tmp_path / "orders/old.csv", ns=(time.time_ns() - LATER,) * 2)
    fresh = write(tmp_path, "orders/fresh.csv")
    batch, cursor = select_new(scan_landing(tmp_path), LandingCursor(), time.time_ns())
    assert names(batch) == ["orders/old.csv"]
    assert not cursor.is_new(batch[0])
    fresh_file = next(f for f in scan_landing(tmp_path).files if f.path == fresh)
    assert cursor.is_new(fresh_file)
    batch, _ = select_new(scan_landing(tmp_path), cursor, _now())
    assert names(batch) == ["orders/fresh.csv"]


def test_a_partial_download_is_picked_up_once_renamed(tmp_path: Path) -> None:
    part = write(tmp_path, "orders/export.csv.part")
    batch, cursor = select_new(scan_landing(tmp_path), LandingCursor(), _now())
    assert batch == []
    part.rename(tmp_path / "orders/export.csv")
    batch, cursor = select_new(scan_landing(tmp_path), cursor, _now())
    assert names(batch) == ["orders/export.csv"]
    assert select_new(scan_landing(tmp_path), cursor, _now())[0] == []


def test_only_new_or_changed_files_are_selected_again(tmp_path: Path) -> None:
    write(tmp_path, "orders/a.csv")
    write(tmp_path, "orders/b.csv")
    batch, cursor = select_new(scan_landing(tmp_path), LandingCursor(), _now())
    assert names(batch) == ["orders/a.csv", "orders/b.csv"]
    cursor = LandingCursor.from_json(cursor.to_json())
    assert select_new(scan_landing(tmp_path), cursor, _now())[0] == []
    write(tmp_path, "orders/c.csv")
    write(tmp_path, "orders/a.csv", row="re-exported")
    batch, _ = select_new(scan_landing(tmp_path), cursor, _now())
    assert names(batch) == ["orders/a.csv", "orders/c.csv"]


def test_a_folder_moved_in_with_old_timestamps_is_new(tmp_path: Path) -> None:
    landing_dir, outside = tmp_path / "landing", tmp_path / "downloads"
    write(outside, "batch/x.csv")
    write(outside, "batch/inner/y.csv")
    write(landing_dir, "orders/a.csv")
    _, cursor = select_new(scan_landing(landing_dir), LandingCursor(), _now())
    time.sleep(0.01)
    write(landing_dir, "orders/b.csv")  # moves the mark past the folder's files' times
    _, cursor = select_new(scan_landing(landing_dir), cursor, _now())
    (outside / "batch").rename(landing_dir / "batch")
    batch, cursor = select_new(scan_landing(landing_dir), cursor, _now())
    assert names(batch) == ["batch/inner/y.csv", "batch/x.csv"]
    assert select_new(scan_landing(landing_dir), cursor, _now())[0] == []


def test_ticks_are_bounded_and_resume_where_they_stopped(tmp_path: Path) -> None:
    for i in range(25):
        write(tmp_path, f"drop/{i:02}.csv")
    cursor, seen = LandingCursor(), []
    for expected in (10, 10, 5, 0):
        batch, cursor = select_new(scan_landing(tmp_path), cursor, _now(), max_files=10)
        assert len(batch) == expected
        seen += names(batch)
        cursor = LandingCursor.from_json(cursor.to_json())
    assert seen == sorted(seen) and len(set(seen)) == 25
    assert len(cursor.to_json()) < 200


def test_a_tick_over_ten_thousand_known_files_reads_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(100):
        folder = tmp_path / "orders" / f"{i:03}"
        folder.mkdir(parents=True)
        for j in range(100):
            (folder / f"{j:03}.csv").write_bytes(b"x\n")
    batch, cursor = select_new(scan_landing(tmp_path), LandingCursor(), _now(), max_files=10**5)
    assert len(batch) == 10_000

    def no_reading(path: Path) -> str:
        raise AssertionError(f"{path} was read")

    monkeypatch.setattr(landing, "file_sha256", no_reading)
    monkeypatch.setattr(landing, "read_export_head", no_reading)
    batch, cursor = select_new(scan_landing(tmp_path), cursor, _now())
    assert describe_new(batch, known=()) == []
    assert len(cursor.to_json()) < 5_000


def test_same_content_under_two_names_is_one_pending_file(tmp_path: Path) -> None:
    a = write(tmp_path, "orders/a.csv", row="same")
    write(tmp_path, "elsewhere/copy of a.csv", row="same")
    write(tmp_path, "subscriptions/recurring/s.csv", SUBSCRIPTIONS_HEADER)
    write(tmp_path, "subscriptions/limited/bad.csv", ["not", "an", "export"])
    write(tmp_path, "bad.csv", ["not", "an", "export"], row="other")
    pending = describe_new(sorted(scan_landing(tmp_path).files, key=lambda f: f.rel_path), ())
    by_path = {p.file.rel_path: p.export for p in pending}
    assert by_path == {
        "bad.csv": TRANSACTIONS,
        "elsewhere/copy of a.csv": TRANSACTIONS,
        "subscriptions/limited/bad.csv": SUBSCRIPTIONS,
        "subscriptions/recurring/s.csv": SUBSCRIPTIONS,
    }
    known = {p.sha256 for p in pending if p.file.rel_path != "bad.csv"}
    remaining = pending_files(tmp_path, known, _now())
    assert [p.file.rel_path for p in remaining] == ["bad.csv"]
    assert a.exists()

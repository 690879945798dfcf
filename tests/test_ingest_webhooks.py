"""Webhook log segments into raw.thrivecart_webhook_events, and the sensor's log cursor."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pipeline.demo import generate_seller
from pipeline.ingest import webhook_load
from pipeline.ingest.raw_checks import duplicate_delivery_ids
from pipeline.ingest.webhook_load import load_webhook_days
from pipeline.ingest.webhook_scan import (
    LogPosition,
    days_to_load,
    describe_days,
    new_complete_lines,
    pending_webhook_days,
)
from pipeline.sidecar.replay import replay_to_log
from pipeline.webhook_log import list_segments, segment_day, segment_path

DAY1, DAY2, DAY3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
LOADED_AT = datetime(2026, 3, 3, 12, 0)


def record(n: int, day: date, event: str = "order.success") -> bytes:
    """One log line as the sidecar writes it (docs/interfaces.md, schema_version 1)."""
    payload = {"event": event, "order_id": str(1000 + n), "customer": {"email": f"c{n}@x.io"}}
    return json.dumps(
        {
            "schema_version": 1,
            "delivery_id": hashlib.sha256(json.dumps(payload).encode()).hexdigest(),
            "received_at": f"{day.isoformat()}T10:00:{n:02}.123456Z",
            "account": "demo-seller",
            "event": event,
            "mode": "live",
            "content_type": "application/x-www-form-urlencoded",
            "format": "form",
            "remote_addr": "127.0.0.1",
            "known_event": True,
            "payload": payload,
        }
    ).encode()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    (tmp_path / "landing" / "webhooks").mkdir(parents=True)
    return tmp_path / "landing"


def append(landing: Path, day: date, *lines: bytes, torn: bytes = b"") -> Path:
    path = segment_path(landing / "webhooks", day)
    with path.open("ab") as f:
        f.write(b"".join(line + b"\n" for line in lines) + torn)
    return path


def load(con: duckdb.DuckDBPyConnection, landing: Path, *days: date) -> list:
    return load_webhook_days(con, landing, landing / "webhooks", days, LOADED_AT)


def events(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT delivery_id, _segment, _segment_day, _byte_offset, received_at, known_event, "
        "schema_version, payload->>'$.order_id' "
        "FROM raw.thrivecart_webhook_events ORDER BY ALL"
    ).fetchall()


@pytest.mark.parametrize("batch_bytes", [1, 64 * 1024 * 1024], ids=["day-by-day", "together"])
def test_each_delivery_is_stored_once_across_rotation_and_torn_lines_wait(
    con: duckdb.DuckDBPyConnection, landing: Path, monkeypatch: pytest.MonkeyPatch, batch_bytes: int
) -> None:
    monkeypatch.setattr(webhook_load, "_BATCH_BYTES", batch_bytes)
    first = append(landing, DAY1, record(1, DAY1), b'{"schema_version": 1, "deli', record(2, DAY1))
    append(landing, DAY2, record(2, DAY1), record(3, DAY2), torn=record(4, DAY2)[:30])
    loads = load(con, landing, DAY1, DAY2)
    assert [(s.segment, s.lines, s.events, s.duplicates, s.rejected) for s in loads] == [
        (first.name, 3, 2, 0, 1),
        ("thrivecart-2026-03-02.jsonl", 2, 1, 1, 0),
    ]
    stored = events(con)
    assert [(row[1], row[2], row[7]) for row in stored if row[7] == "1002"] == [
        (first.name, DAY1, "1002")
    ]
    assert {row[7] for row in stored} == {"1001", "1002", "1003"}
    first_row = next(row for row in stored if row[7] == "1001")
    assert first_row[3:7] == (0, datetime(2026, 3, 1, 10, 0, 1, 123456), True, 1)
    (rejected,) = con.execute(
        "SELECT source, file_sha256, line, reason, raw_line FROM raw.rejected_rows"
    ).fetchall()
    assert rejected[:3] == ("webhooks/thrivecart-2026-03-01.jsonl", None, 2)
    assert rejected[3].startswith("not a JSON line (torn write or corrupted bytes)")
    assert rejected[4] == '{"schema_version": 1, "deli'
    assert duplicate_delivery_ids(con) == []


def test_offsets_count_bytes_and_received_times_become_naive_utc(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    accented = record(1, DAY1).replace(b'"c1@x.io"', '"zo\u00eb@x.io"'.encode())  # 2-byte UTF-8
    shifted = json.loads(record(2, DAY1))
    shifted["received_at"] = "2026-03-01T12:00:00+02:00"
    append(landing, DAY1, accented, json.dumps(shifted, ensure_ascii=False).encode())
    load(con, landing, DAY1)
    rows = [(row[3], row[4]) for row in sorted(events(con), key=lambda row: row[3])]
    assert rows == [
        (0, datetime(2026, 3, 1, 10, 0, 1, 123456)),
        (len(accented) + 1, datetime(2026, 3, 1, 10, 0)),
    ]
    assert con.execute(
        "SELECT payload->>'$.customer.email' FROM raw.thrivecart_webhook_events "
        "WHERE _byte_offset = 0"
    ).fetchone() == ("zo\u00eb@x.io",)


def test_reloading_any_day_changes_nothing(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    append(landing, DAY1, record(1, DAY1), b"garbage", record(2, DAY1))
    append(landing, DAY2, record(2, DAY1), record(3, DAY2))
    tables = ["thrivecart_webhook_events", "rejected_rows", "webhook_segments"]

    def state() -> list[list[tuple]]:
        return [con.execute(f"SELECT * FROM raw.{t} ORDER BY ALL").fetchall() for t in tables]

    load(con, landing, DAY1, DAY2)
    before = state()
    for days in [(DAY2,), (DAY1,), (DAY1, DAY2, DAY3)]:
        load(con, landing, *days)
        assert state() == before
    segment_path(landing / "webhooks", DAY1).unlink()  # old segments deleted to save space
    load(con, landing, DAY1, DAY2)
    assert state() == before


def test_a_failed_batch_keeps_its_days_as_they_were_and_the_days_before_it_loaded(
    con: duckdb.DuckDBPyConnection, landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(landing, DAY1, record(1, DAY1))
    append(landing, DAY2, record(2, DAY2))
    load(con, landing, DAY1, DAY2)
    append(landing, DAY1, record(3, DAY1))
    append(landing, DAY2, record(4, DAY2))
    monkeypatch.setattr(webhook_load, "_BATCH_BYTES", 1)  # one day per batch
    load_batch = webhook_load._load_batch

    def disk_full_on_day2(con: duckdb.DuckDBPyConnection, batch: list, *args: object):
        if batch[0].day == DAY2:
            raise duckdb.IOException("No space left on device")
        return load_batch(con, batch, *args)

    monkeypatch.setattr(webhook_load, "_load_batch", disk_full_on_day2)
    with pytest.raises(duckdb.IOException):
        load(con, landing, DAY1, DAY2)
    orders = con.execute(
        "SELECT _segment_day, payload->>'$.order_id' FROM raw.thrivecart_webhook_events "
        "ORDER BY ALL"
    ).fetchall()
    assert orders == [(DAY1, "1001"), (DAY1, "1003"), (DAY2, "1002")]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"[1, 2]", "not a JSON object"),
        (b'{"payload": {}}', "delivery_id is missing"),
        (json.dumps({"delivery_id": "a" * 64, "payload": {}}).encode(), "received_at is missing"),
        (
            json.dumps(
                {"delivery_id": "a" * 64, "received_at": "yesterday", "payload": {}}
            ).encode(),
            "is not an ISO 8601 time",
        ),
        (
            json.dumps({"delivery_id": "a" * 64, "received_at": "2026-03-01T00:00:00Z"}).encode(),
            "payload is missing",
        ),
        (b"\xff\xfe{}", "not a JSON line"),
        (
            record(2, DAY1).replace(b'"schema_version": 1', b'"schema_version": 2'),
            "schema_version 2 is not supported: this pipeline reads schema_version 1",
        ),
        (
            record(2, DAY1).replace(b'"schema_version": 1, ', b""),
            "schema_version (missing) is not supported",
        ),
    ],
)
def test_lines_that_are_not_records_are_rejected_with_the_reason(
    con: duckdb.DuckDBPyConnection, landing: Path, line: bytes, reason: str
) -> None:
    append(landing, DAY1, line, record(1, DAY1))
    (segment_load,) = load(con, landing, DAY1)
    assert (segment_load.events, segment_load.rejected) == (1, 1)
    stored_line, stored_reason = con.execute(
        "SELECT line, reason FROM raw.rejected_rows"
    ).fetchone()
    assert stored_line == 1 and reason in stored_reason


def test_a_reload_counts_as_new_only_the_events_not_stored_before(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    append(landing, DAY1, record(1, DAY1), record(2, DAY1))
    append(landing, DAY2, record(3, DAY2))
    first = load(con, landing, DAY1, DAY2)
    append(landing, DAY2, record(3, DAY2), record(4, DAY2))  # a resend and a new delivery

    second = load(con, landing, DAY1, DAY2)

    assert [(s.events, s.new_events) for s in first] == [(2, 2), (1, 1)]
    assert [(s.events, s.new_events, s.duplicates) for s in second] == [(2, 0, 0), (2, 1, 1)]


def test_the_cursor_follows_complete_lines_across_rotation(landing: Path) -> None:
    log = landing / "webhooks"
    assert new_complete_lines(log, None, until=DAY3) == ([], None)
    first = append(landing, DAY1, record(1, DAY1), record(2, DAY1))
    days, position = new_complete_lines(log, None, until=DAY3)
    assert (days, position) == ([DAY1], LogPosition(first.name, first.stat().st_size))
    assert new_complete_lines(log, position, until=DAY3) == ([], position)

    append(landing, DAY1, record(3, DAY1))
    second = append(landing, DAY2, record(4, DAY2), torn=b'{"half": ')
    days, position = new_complete_lines(log, LogPosition.from_json(position.to_json()), DAY3)
    assert days == [DAY1, DAY2]
    assert position == LogPosition(second.name, second.stat().st_size - len(b'{"half": '))

    append(landing, DAY2, b"", torn=b"")  # the writer finishes the torn line
    days, position = new_complete_lines(log, position, until=DAY3)
    assert days == [DAY2] and position.offset == second.stat().st_size


def test_future_segments_wait_and_a_stale_cursor_rereads_the_day(landing: Path) -> None:
    log = landing / "webhooks"
    append(landing, DAY1, record(1, DAY1))
    append(landing, DAY3, record(3, DAY3))
    days, position = new_complete_lines(log, None, until=DAY2)
    assert days == [DAY1] and position.segment.endswith("2026-03-01.jsonl")
    segment_path(log, DAY1).write_bytes(b"")
    append(landing, DAY1, record(9, DAY1))  # replaced by a shorter file
    stale = LogPosition(position.segment, position.offset + 5)
    assert new_complete_lines(log, stale, until=DAY3)[0] == [DAY1, DAY3]


def test_pending_days_are_segments_that_grew(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    append(landing, DAY1, record(1, DAY1))
    append(landing, DAY2, record(2, DAY2))
    load(con, landing, DAY1, DAY2)
    sizes = dict(con.execute("SELECT segment, bytes FROM raw.webhook_segments").fetchall())
    assert pending_webhook_days(landing / "webhooks", sizes) == []
    append(landing, DAY2, record(5, DAY2))
    append(landing, DAY3, record(6, DAY3))
    assert pending_webhook_days(landing / "webhooks", sizes) == [DAY2, DAY3]
    # What a load run takes: all days, the days asked for, else those that grew.
    webhooks = landing / "webhooks"
    assert days_to_load(webhooks, sizes, [], every_day=False) == [DAY2, DAY3]
    assert days_to_load(webhooks, sizes, [DAY3, DAY1, DAY3], every_day=False) == [DAY1, DAY3]
    assert days_to_load(webhooks, sizes, [DAY3], every_day=True) == [DAY1, DAY2, DAY3]


def test_a_replayed_demo_history_loads_every_delivery_once_without_the_secret(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    seller = generate_seller(landing.parent / "seller", customers=30, seed=3)
    log = landing / "webhooks"
    replay = replay_to_log(seller.files["deliveries"], log, {"*": "demo-secret"})
    lines = [json.loads(line) for path in list_segments(log) for line in path.open("rb")]
    assert len(lines) == replay.accepted > 10
    loads = load(con, landing, *(segment_day(p) for p in list_segments(log)))
    assert sum(s.events for s in loads) == len({line["delivery_id"] for line in lines})
    assert sum(s.events + s.duplicates for s in loads) == replay.accepted
    assert sum(s.rejected for s in loads) == 0
    leaked = con.execute(
        "SELECT count(*) FROM raw.thrivecart_webhook_events "
        "WHERE payload::VARCHAR LIKE '%demo-secret%' OR payload->>'$.thrivecart_secret' IS NOT NULL"
    ).fetchone()[0]
    assert leaked == 0


def test_a_run_names_its_days_as_runs_of_consecutive_days() -> None:
    days = [date(2026, 2, 27), date(2026, 3, 1), date(2026, 2, 28), date(2026, 3, 3)]
    assert describe_days(days) == "2026-02-27 to 2026-03-01, 2026-03-03"
    assert describe_days([date(2026, 3, 3), date(2026, 3, 3)]) == "2026-03-03"
    assert describe_days([]) == "none"

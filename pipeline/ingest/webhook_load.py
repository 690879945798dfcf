"""Load days of the webhook log into `raw.thrivecart_webhook_events`.

A partition is one UTC day, i.e. one segment file, loaded whole: its rows are deleted and its
complete lines inserted again in one transaction, so reloading a day from the UI changes
nothing. Each delivery is stored once, under the first line that carried it (ThriveCart
resends; the sidecar logs every resend). Lines that are not a valid record, such as the torn
bytes of a crash, go to `raw.rejected_rows` with their line number: nothing is dropped silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pipeline.warehouse import REJECTED_ROWS_TABLE, WEBHOOK_EVENTS_TABLE, WEBHOOK_SEGMENTS_TABLE
from pipeline.webhook_log import iter_complete_lines, segment_path

_DELIVERY_ID = re.compile(r"^[0-9a-f]{64}$")
_TEXT_FIELDS = ("account", "event", "mode", "content_type", "format", "remote_addr")
_MAX_RAW_LINE = 100_000


class BadRecord(ValueError):
    """A log line that is not a webhook record; the message is the reason stored with it."""


@dataclass
class SegmentRows:
    """The complete lines of one segment, split into records and rejects."""

    records: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # line, reason, raw
    end: int = 0  # byte offset after the last complete line


@dataclass(frozen=True)
class SegmentLoad:
    """What loading one day did."""

    segment: str
    day: date
    lines: int
    events: int
    duplicates: int
    rejected: int
    bytes: int


def _text(value: object) -> str | None:
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _received_at(value: object) -> datetime:
    """The record's `received_at` as naive UTC, the warehouse's TIMESTAMP convention."""
    if not isinstance(value, str):
        raise BadRecord("received_at is missing")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRecord(f"received_at {value[:40]!r} is not an ISO 8601 time") from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def parse_record(line: bytes) -> dict[str, Any]:
    """The columns of one log line (schema_version 1 of docs/interfaces.md), or BadRecord."""
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRecord(f"not a JSON line (torn write or corrupted bytes): {exc}") from exc
    if not isinstance(record, dict):
        raise BadRecord("not a JSON object")
    delivery_id = record.get("delivery_id")
    if not isinstance(delivery_id, str) or not _DELIVERY_ID.match(delivery_id):
        raise BadRecord("delivery_id is missing or is not 64 hex digits")
    payload = record.get("payload")
    if not isinstance(payload, dict):
        raise BadRecord("payload is missing or is not a JSON object")
    version = record.get("schema_version")
    known = record.get("known_event")
    return {
        "delivery_id": delivery_id,
        "received_at": _received_at(record.get("received_at")),
        **{name: _text(record.get(name)) for name in _TEXT_FIELDS},
        "known_event": known if isinstance(known, bool) else None,
        "schema_version": version if isinstance(version, int) else None,
        "payload": json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
    }


def read_segment(path: Path) -> SegmentRows:
    """Parse every complete line of a segment (a torn last line is left for later)."""
    rows = SegmentRows()
    for number, (offset, line) in enumerate(iter_complete_lines(path), start=1):
        rows.end = offset + len(line) + 1
        try:
            record = parse_record(line)
        except BadRecord as exc:
            raw = line.decode("utf-8", errors="replace")[:_MAX_RAW_LINE]
            rows.rejects.append((number, str(exc), raw))
            continue
        rows.records.append({**record, "_byte_offset": offset})
    return rows


def _insert_events(
    con: duckdb.DuckDBPyConnection, rows: SegmentRows, segment: str, day: date, loaded_at: datetime
) -> int:
    """Insert the segment's records not already stored (from it or another day); return count."""
    if not rows.records:
        return 0
    con.register("webhook_lines", pd.DataFrame.from_records(rows.records))
    try:
        return con.execute(
            f"""INSERT INTO {WEBHOOK_EVENTS_TABLE}
            SELECT delivery_id, received_at, account, event, mode, content_type, format,
                   remote_addr, CAST(known_event AS BOOLEAN), CAST(schema_version AS INTEGER),
                   CAST(payload AS JSON), ?, ?, _byte_offset, ?
            FROM webhook_lines
            WHERE delivery_id NOT IN (SELECT delivery_id FROM {WEBHOOK_EVENTS_TABLE})
            QUALIFY row_number() OVER (PARTITION BY delivery_id ORDER BY _byte_offset) = 1""",
            [segment, day, loaded_at],
        ).fetchone()[0]
    finally:
        con.unregister("webhook_lines")


def _delete_days(con: duckdb.DuckDBPyConnection, days: list[date], sources: list[str]) -> None:
    con.execute(f"DELETE FROM {WEBHOOK_EVENTS_TABLE} WHERE _segment_day IN ?", [days])
    con.execute(f"DELETE FROM {WEBHOOK_SEGMENTS_TABLE} WHERE day IN ?", [days])
    con.execute(f"DELETE FROM {REJECTED_ROWS_TABLE} WHERE source IN ?", [sources])


def _load_day(
    con: duckdb.DuckDBPyConnection, path: Path, source: str, day: date, loaded_at: datetime
) -> SegmentLoad:
    rows = read_segment(path)
    events = _insert_events(con, rows, path.name, day, loaded_at)
    if rows.rejects:
        con.executemany(
            f"INSERT INTO {REJECTED_ROWS_TABLE} VALUES (?, NULL, ?, ?, ?, ?)",
            [(source, line, reason, raw, loaded_at) for line, reason, raw in rows.rejects],
        )
    valid = len(rows.records)
    load = SegmentLoad(
        segment=path.name,
        day=day,
        lines=valid + len(rows.rejects),
        events=events,
        duplicates=valid - events,
        rejected=len(rows.rejects),
        bytes=rows.end,
    )
    con.execute(
        f"INSERT INTO {WEBHOOK_SEGMENTS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
        [load.segment, day, load.bytes, load.events, load.duplicates, load.rejected, loaded_at],
    )
    return load


def load_webhook_days(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    webhooks_dir: Path,
    days: Iterable[date],
    loaded_at: datetime,
) -> list[SegmentLoad]:
    """Replace the events of `days` with their segments' complete lines, in one transaction.

    A day whose segment is gone (deleted to save space, say) keeps what was loaded from it:
    a range run over it must not lose deliveries the warehouse already holds.
    """
    paths = {day: segment_path(webhooks_dir, day) for day in sorted(set(days))}
    paths = {day: path for day, path in paths.items() if path.is_file()}
    sources = {day: _source(landing_dir, path) for day, path in paths.items()}
    loads: list[SegmentLoad] = []
    con.execute("BEGIN TRANSACTION")
    try:
        _delete_days(con, list(paths), list(sources.values()))
        for day, path in paths.items():
            loads.append(_load_day(con, path, sources[day], day, loaded_at))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return loads


def _source(landing_dir: Path, path: Path) -> str:
    """A segment's path as rejected rows name it: relative to the landing folder if inside."""
    try:
        return path.relative_to(landing_dir).as_posix()
    except ValueError:
        return str(path)


def loaded_segment_sizes(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Segment file name -> bytes of complete lines already loaded from it."""
    return dict(con.execute(f"SELECT segment, bytes FROM {WEBHOOK_SEGMENTS_TABLE}").fetchall())

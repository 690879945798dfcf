"""Load days of the webhook log into `raw.thrivecart_webhook_events`.

A partition is one UTC day, i.e. one segment file, loaded whole: its rows are deleted and its
complete lines inserted again in one transaction, so reloading a day from the UI changes
nothing. Each delivery is stored once, under the first line that carried it (ThriveCart
resends; the sidecar logs every resend). Lines that are not a valid record, such as the torn
bytes of a crash, go to `raw.rejected_rows` with their line number: nothing is dropped silently.

Python only splits the segments into lines; DuckDB decodes, validates and extracts them in
one statement per batch of days. Parsing 2 KB JSON lines one by one in Python was most of the
cost of loading a large history (about 90 of 140 s for 373k deliveries).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import accumulate
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.sidecar.records import SCHEMA_VERSION
from pipeline.warehouse import REJECTED_ROWS_TABLE, WEBHOOK_EVENTS_TABLE, WEBHOOK_SEGMENTS_TABLE
from pipeline.webhook_log import read_complete_lines, segment_path

_MAX_RAW_LINE = 100_000
# Segments are read and inserted in batches of about this many bytes: memory stays bounded
# however long the history, and each batch is large enough for DuckDB to work in bulk. Each
# commit has a cost of its own: on a 1M-row seller's log, 64 MB batches spent 17.4 CPU s in
# commits and 128 MB ones 11.5 (the load 34 -> 28 s), for ~0.2 GiB more memory.
_BATCH_BYTES = 128 * 1024 * 1024
_BATCH_TABLE = "webhook_batch"
_NOT_JSON = "not a JSON line (torn write or corrupted bytes)"

# One parse per line: every field the table needs, extracted by a single multi-path call.
# The first character of an extracted value tells its JSON type ('"' string, '{' object).
_CLASSIFY_SQL = f"""
CREATE OR REPLACE TEMP TABLE {_BATCH_TABLE} AS
WITH decoded AS (
    SELECT segment, CAST(day AS DATE) AS day, line, byte_offset, TRY(decode(raw)) AS text
    FROM webhook_lines
), extracted AS (
    SELECT *, TRY(json_extract(text, [
        '$.delivery_id', '$.received_at', '$.payload', '$.known_event', '$.schema_version',
        '$.account', '$.event', '$.mode', '$.content_type', '$.format', '$.remote_addr'
    ])) AS v
    FROM decoded
), timed AS (
    SELECT *, v[2] ->> '$' AS received_text,
        CASE WHEN regexp_matches(received_text, '(Z|z|[+-]\\d\\d:?\\d\\d)$')
            THEN timezone('UTC', TRY_CAST(received_text AS TIMESTAMPTZ))
            ELSE TRY_CAST(received_text AS TIMESTAMP)
        END AS received_at
    FROM extracted
)
SELECT segment, day, line, byte_offset,
    CASE
        WHEN text IS NULL THEN '{_NOT_JSON}: not UTF-8'
        WHEN v IS NULL THEN '{_NOT_JSON}'
        WHEN NOT starts_with(ltrim(text, chr(32) || chr(9) || chr(13)), '{{')
            THEN 'not a JSON object'
        WHEN NOT coalesce(regexp_full_match(v[1], '"[0-9a-f]{{64}}"'), false)
            THEN 'delivery_id is missing or is not 64 hex digits'
        WHEN NOT coalesce(starts_with(v[3], '{{'), false)
            THEN 'payload is missing or is not a JSON object'
        WHEN NOT coalesce(starts_with(v[2], '"'), false) THEN 'received_at is missing'
        WHEN received_at IS NULL
            THEN 'received_at ''' || left(received_text, 40) || ''' is not an ISO 8601 time'
        WHEN v[5] IS DISTINCT FROM '{SCHEMA_VERSION}'
            THEN 'schema_version ' || coalesce(CAST(v[5] AS VARCHAR), '(missing)')
                || ' is not supported: this pipeline reads schema_version {SCHEMA_VERSION}; '
                || 'upgrade it to load this line'
    END AS reason,
    v[1] ->> '$' AS delivery_id, received_at,
    v[6] ->> '$' AS account, v[7] ->> '$' AS event, v[8] ->> '$' AS mode,
    v[9] ->> '$' AS content_type, v[10] ->> '$' AS format, v[11] ->> '$' AS remote_addr,
    CASE v[4] WHEN 'true' THEN true WHEN 'false' THEN false END AS known_event,
    CASE WHEN json_type(v[5]) IN ('BIGINT', 'UBIGINT') THEN TRY_CAST(v[5] ->> '$' AS INTEGER)
    END AS schema_version,
    v[3] AS payload
FROM timed
"""

# First line of each delivery in the batch, unless an earlier day already stored it.
_INSERT_SQL = f"""
INSERT INTO {WEBHOOK_EVENTS_TABLE}
SELECT delivery_id, received_at, account, event, mode, content_type, format, remote_addr,
       known_event, schema_version, payload, segment, day, byte_offset, ?
FROM {_BATCH_TABLE}
WHERE reason IS NULL
  AND delivery_id NOT IN (SELECT delivery_id FROM {WEBHOOK_EVENTS_TABLE})
QUALIFY row_number() OVER (PARTITION BY delivery_id ORDER BY segment, byte_offset) = 1
"""


@dataclass(frozen=True)
class SegmentLoad:
    """What loading one day did: `events` stored from it, `new_events` of them not stored by
    an earlier load of the same segment (a segment that grew is reloaded whole)."""

    segment: str
    day: date
    lines: int
    events: int
    duplicates: int
    rejected: int
    bytes: int
    new_events: int


@dataclass(frozen=True)
class _Segment:
    """The complete lines of one day's segment, as read from disk."""

    day: date
    name: str
    source: str  # the path rejected rows name
    lines: list[bytes]
    end: int  # byte offset after the last complete line


def _read_batches(paths: dict[date, Path], landing_dir: Path) -> Iterator[list[_Segment]]:
    """The segments in day order, grouped into batches of about `_BATCH_BYTES`."""
    batch: list[_Segment] = []
    size = 0
    for day, path in paths.items():
        lines, end = read_complete_lines(path)
        batch.append(_Segment(day, path.name, _source(landing_dir, path), lines, end))
        size += end
        if size >= _BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _line_offsets(lines: list[bytes]) -> list[int]:
    """The byte offset of each line in its segment (each line is followed by its newline)."""
    return list(accumulate((len(line) + 1 for line in lines), initial=0))[:-1]


def _lines_frame(batch: list[_Segment]) -> pd.DataFrame:
    """One row per line: segment, day, line number, byte offset and the raw bytes."""
    columns: dict[str, list] = {"segment": [], "day": [], "line": [], "byte_offset": []}
    for segment in batch:
        count = len(segment.lines)
        columns["segment"] += [segment.name] * count
        columns["day"] += [segment.day.isoformat()] * count
        columns["line"] += range(1, count + 1)
        columns["byte_offset"] += _line_offsets(segment.lines)
    raw = pd.Series([line for segment in batch for line in segment.lines], dtype=object)
    return pd.DataFrame({**columns, "raw": raw})


def _store_rejects(
    con: duckdb.DuckDBPyConnection, batch: list[_Segment], loaded_at: datetime
) -> dict[str, int]:
    """Insert the batch's rejected lines with their reason and raw text; count per segment."""
    by_name = {segment.name: segment for segment in batch}
    rows = con.execute(
        f"SELECT segment, line, reason FROM {_BATCH_TABLE} WHERE reason IS NOT NULL "
        "ORDER BY segment, line"
    ).fetchall()
    counts: dict[str, int] = {}
    stored = []
    for name, line, reason in rows:
        segment = by_name[name]
        raw = segment.lines[line - 1].decode("utf-8", errors="replace")[:_MAX_RAW_LINE]
        stored.append((segment.source, line, reason, raw, loaded_at))
        counts[name] = counts.get(name, 0) + 1
    if stored:
        con.executemany(f"INSERT INTO {REJECTED_ROWS_TABLE} VALUES (?, NULL, ?, ?, ?, ?)", stored)
    return counts


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    batch: list[_Segment],
    loaded_at: datetime,
    previous: dict[str, int],
) -> list[SegmentLoad]:
    """Classify, insert and account for one batch of segments (`previous`: events stored from
    each segment before this load)."""
    con.register("webhook_lines", _lines_frame(batch))
    try:
        con.execute(_CLASSIFY_SQL)
    finally:
        con.unregister("webhook_lines")
    rejected = _store_rejects(con, batch, loaded_at)
    con.execute(_INSERT_SQL, [loaded_at])
    names = [segment.name for segment in batch]
    events = dict(
        con.execute(
            f"SELECT _segment, count(*) FROM {WEBHOOK_EVENTS_TABLE} WHERE _segment IN ? "
            "GROUP BY _segment",
            [names],
        ).fetchall()
    )
    con.execute(f"DROP TABLE {_BATCH_TABLE}")
    loads = [
        _segment_load(s, events.get(s.name, 0), rejected.get(s.name, 0), previous.get(s.name, 0))
        for s in batch
    ]
    con.executemany(
        f"INSERT INTO {WEBHOOK_SEGMENTS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(s.segment, s.day, s.bytes, s.events, s.duplicates, s.rejected, loaded_at) for s in loads],
    )
    return loads


def _segment_load(segment: _Segment, events: int, rejected: int, previous: int) -> SegmentLoad:
    lines = len(segment.lines)
    duplicates = lines - rejected - events
    new = max(events - previous, 0)  # lines are only ever appended: old events load again
    return SegmentLoad(
        segment.name, segment.day, lines, events, duplicates, rejected, segment.end, new
    )


def _delete_days(con: duckdb.DuckDBPyConnection, days: list[date], sources: list[str]) -> None:
    con.execute(f"DELETE FROM {WEBHOOK_EVENTS_TABLE} WHERE _segment_day IN ?", [days])
    con.execute(f"DELETE FROM {WEBHOOK_SEGMENTS_TABLE} WHERE day IN ?", [days])
    con.execute(f"DELETE FROM {REJECTED_ROWS_TABLE} WHERE source IN ?", [sources])


def load_webhook_days(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    webhooks_dir: Path,
    days: Iterable[date],
    loaded_at: datetime,
) -> list[SegmentLoad]:
    """Replace the events of `days` with their segments' complete lines, one transaction per
    batch of whole days: each day is replaced whole or not at all.

    Not one transaction for every day: DuckDB holds a transaction's new rows in memory until
    it commits, beyond its memory limit (a 10M-row seller's 8 GB log reached 11 GiB).

    A day whose segment is gone (deleted to save space, say) keeps what was loaded from it:
    a range run over it must not lose deliveries the warehouse already holds.
    """
    paths = {day: segment_path(webhooks_dir, day) for day in sorted(set(days))}
    paths = {day: path for day, path in paths.items() if path.is_file()}
    loads: list[SegmentLoad] = []
    for batch in _read_batches(paths, landing_dir):
        con.execute("BEGIN TRANSACTION")
        try:
            previous = _stored_events(con, [s.day for s in batch])
            _delete_days(con, [s.day for s in batch], [s.source for s in batch])
            loads += _load_batch(con, batch, loaded_at, previous)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return loads


def _stored_events(con: duckdb.DuckDBPyConnection, days: list[date]) -> dict[str, int]:
    """Events stored from each segment of `days` by the loads so far."""
    sql = f"SELECT segment, events FROM {WEBHOOK_SEGMENTS_TABLE} WHERE day IN ?"
    return dict(con.execute(sql, [days]).fetchall())


def _source(landing_dir: Path, path: Path) -> str:
    """A segment's path as rejected rows name it: relative to the landing folder if inside."""
    try:
        return path.relative_to(landing_dir).as_posix()
    except ValueError:
        return str(path)


def loaded_segment_sizes(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Segment file name -> bytes of complete lines already loaded from it."""
    return dict(con.execute(f"SELECT segment, bytes FROM {WEBHOOK_SEGMENTS_TABLE}").fetchall())

"""What the webhook sensor looks at: which days of the log gained complete lines.

The cursor is one (segment, byte offset) pair: the end of the last complete line already
handed to a run. A tick reads only the bytes after it, through the log's own reader, so a line
still being written (no newline yet) is never counted, and rotation to a new day's segment is
just the next file in order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipeline.webhook_log import iter_complete_lines, list_segments, segment_day


@dataclass(frozen=True)
class LogPosition:
    """End of the last complete line handed to a run: segment file name and byte offset."""

    segment: str
    offset: int

    def to_json(self) -> str:
        return json.dumps({"segment": self.segment, "offset": self.offset})

    @classmethod
    def from_json(cls, text: str | None) -> LogPosition | None:
        if not text:
            return None
        data = json.loads(text)
        return cls(data["segment"], data["offset"])


def _complete_end(path: Path, start: int) -> int | None:
    """Offset after the last complete line at or after `start`, None if there is none."""
    end = None
    for offset, line in iter_complete_lines(path, start):
        end = offset + len(line) + 1
    return end


def new_complete_lines(
    webhooks_dir: Path, position: LogPosition | None, until: date
) -> tuple[list[date], LogPosition | None]:
    """Days up to `until` whose segments have complete lines after `position`, and the
    position after them.

    Segments dated after `until` (a clock running ahead) are left for a later call. A segment
    that no longer fits the cursor (truncated or replaced) is read from its start: its day is
    reloaded whole, which is harmless.
    """
    days: list[date] = []
    for path in list_segments(webhooks_dir):
        if segment_day(path) > until:
            break
        if position is not None and path.name < position.segment:
            continue
        start = position.offset if position is not None and path.name == position.segment else 0
        try:
            end = _complete_end(path, start)
        except ValueError:
            end = _complete_end(path, 0)
        if end is not None:
            days.append(segment_day(path))
            position = LogPosition(path.name, end)
    return days, position


def pending_webhook_days(webhooks_dir: Path, loaded_sizes: Mapping[str, int]) -> list[date]:
    """Days whose segment grew past what the warehouse loaded (for one-shot `ltv run`).

    `loaded_sizes` is `pipeline.ingest.webhook_load.loaded_segment_sizes(con)`.
    """
    return [
        segment_day(path)
        for path in list_segments(webhooks_dir)
        if path.stat().st_size > loaded_sizes.get(path.name, -1)
    ]


def days_to_load(
    webhooks_dir: Path, loaded_sizes: Mapping[str, int], requested: Sequence[date], every_day: bool
) -> list[date]:
    """The days a webhook load run loads: every segment's day (`every_day`), else the days
    asked for, else the days whose segment grew past what was loaded."""
    if every_day:
        return [segment_day(path) for path in list_segments(webhooks_dir)]
    return sorted(set(requested)) or pending_webhook_days(webhooks_dir, loaded_sizes)


def describe_days(days: Sequence[date]) -> str:
    """`days` as runs of consecutive days, for a run's metadata: a replayed history of three
    years reads "2023-01-01 to 2025-12-31" rather than a thousand dates."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(f"{r[0]} to {r[-1]}" if len(r) > 1 else str(r[0]) for r in runs) or "none"

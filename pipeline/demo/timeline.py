"""The demo seller's calendar, and how each source writes a moment.

History runs ~18 months up to `end`. The webhook URL was set up ~4 months before the end, an
"All time" Transactions export was downloaded ~100 days before the end and the latest one 3 days
before it, so a consumer sees every overlap a real seller produces: CSV-only history, CSV plus
webhook, and webhook-only days. All moments are whole seconds since the epoch (UTC).
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)
HISTORY = timedelta(days=548)
SETUP_BEFORE_END = timedelta(days=122, hours=9, minutes=36, seconds=55)
OLDER_EXPORT_BEFORE_END = timedelta(days=100, hours=14, minutes=47, seconds=16)
LATEST_EXPORT_BEFORE_END = timedelta(days=3, hours=7, minutes=41, seconds=13)
RENAME_AFTER_START = timedelta(days=263, hours=10)
# Seconds after the latest Transactions export that each Subscriptions export is downloaded.
SUBSCRIPTION_EXPORT_DELAYS = {"recurring": 40, "limited": 95}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE = _EPOCH.date()


@dataclass(frozen=True)
class Timeline:
    """Fixed points of the simulated history, in epoch seconds."""

    start: int
    end: int
    webhook_setup_at: int
    older_export_at: int
    latest_export_at: int
    rename_at: int

    @classmethod
    def ending_at(cls, end: datetime) -> Timeline:
        """The calendar of a seller whose data ends at `end` (timezone-aware)."""
        if end.tzinfo is None:
            raise ValueError("the end of the history must be timezone-aware (UTC)")
        start = end - HISTORY

        def ts(moment: datetime) -> int:
            return int(moment.timestamp())

        return cls(
            start=ts(start),
            end=ts(end),
            webhook_setup_at=ts(end - SETUP_BEFORE_END),
            older_export_at=ts(end - OLDER_EXPORT_BEFORE_END),
            latest_export_at=ts(end - LATEST_EXPORT_BEFORE_END),
            rename_at=ts(start + RENAME_AFTER_START),
        )


@functools.lru_cache(maxsize=4096)
def _utc_day_text(day: int) -> str:
    """`YYYY-MM-DD` of day number `day` since 1970-01-01; cached, as events share days (the
    ~550 of the history and the next year's, where scheduled payments fall)."""
    return (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%d")


# `HH:MM:` of each minute of a day and `SS` of each second: a clock text is two lookups.
_MINUTE_TEXT = tuple(f"{hour:02d}:{minute:02d}:" for hour in range(24) for minute in range(60))
_SECOND_TEXT = tuple(f"{second:02d}" for second in range(60))


def utc_parts(t: int) -> tuple[str, str]:
    """`(YYYY-MM-DD, HH:MM:SS)` in UTC by integer arithmetic: epoch seconds have no leap
    seconds, and this is several times faster than `datetime.fromtimestamp` + `strftime`,
    which the webhook bodies and truth.json call for every timestamp."""
    day, second = divmod(t, 86400)
    minute, second = divmod(second, 60)
    return _utc_day_text(day), _MINUTE_TEXT[minute] + _SECOND_TEXT[second]


def iso_z(t: int) -> str:
    """ISO 8601 UTC with a `Z`, as truth.json writes times."""
    day, clock = utc_parts(t)
    return f"{day}T{clock}Z"


def iso_z_micros(t_us: int) -> str:
    """ISO 8601 UTC with microseconds, as the sidecar writes `received_at`."""
    seconds, micros = divmod(t_us, 1_000_000)
    day, clock = utc_parts(seconds)
    return f"{day}T{clock}.{micros:06d}Z"


def utc_date(t: int) -> str:
    """The UTC calendar date, `YYYY-MM-DD` (truth.json reports in UTC)."""
    return _utc_day_text(t // 86400)


def utc_day(t: int) -> int:
    """Days since 1970-01-01 of moment `t`: the truth's reporting time zone is UTC."""
    return t // 86400


@functools.lru_cache(maxsize=32768)
def _day_plus_months(day: int, months: int) -> int:
    """Day number `day` (since 1970-01-01) moved `months` calendar months on, clamped to the
    month's end. Cached: a seller's subscriptions start on ~550 distinct days and rebill up to
    ~20 times, ~11,000 pairs in all (4096 entries missed ever more often as sellers grew)."""
    start = _EPOCH_DATE + timedelta(days=day)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    moved = date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
    return (moved - _EPOCH_DATE).days


def add_months(t: int, months: int) -> int:
    """The same wall-clock moment `months` calendar months later (day clamped to month end).

    ThriveCart bills monthly plans on the calendar day of the purchase, not every 30 days.
    In UTC, so the time of day carries over unchanged and only the day number moves.
    """
    day, second = divmod(t, 86400)
    return _day_plus_months(day, months) * 86400 + second


class CsvClock:
    """Writes moments on the exports' clock (the account's time zone) and keeps them readable.

    A local time inside a DST fall-back hour names two instants, so a consumer could not tell
    which one a CSV row means; `settle` moves such a moment past the repeated hour, and every
    event time goes through it, so each CSV time converts back to exactly one UTC instant.
    """

    def __init__(self, timezone: str) -> None:
        self._zone = ZoneInfo(timezone)
        self._fixed = timezone == "UTC"

    def settle(self, t: int) -> int:
        """`t`, or the first moment after it whose local time is unambiguous."""
        if self._fixed:
            return t
        while True:
            local = datetime.fromtimestamp(t, self._zone)
            if local.replace(fold=1 - local.fold).utcoffset() == local.utcoffset():
                return t
            t += 900

    def date_time(self, t: int) -> tuple[str, str]:
        """`(YYYY-MM-DD, HH:MM:SS)` local: the exports' `order_date` and `order_time`."""
        if self._fixed:
            return utc_parts(t)
        d = datetime.fromtimestamp(t, self._zone)
        return (
            f"{d.year:04d}-{d.month:02d}-{d.day:02d}",
            f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}",
        )

    def file_stamp(self, t: int) -> str:
        """The `YYYY-MM-DD HH_MM_SS` in an export's file name (local, like the download)."""
        return datetime.fromtimestamp(t, self._zone).strftime("%Y-%m-%d %H_%M_%S")

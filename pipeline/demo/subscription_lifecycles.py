"""Subscription lifecycles and MRR, from what the sources reveal about each subscription.

The rules of docs/marts.md ("Subscription economics"), worked out here without dbt: a
subscription starts at its first payment above zero and ends at its cancellation (never before
its last payment) or DELINQUENCY_DAYS after a failed rebill nothing was collected since,
whichever is first; MRR is the latest payment above zero per month, taken at each month end
(as_of's date in as_of's month), per subscriber. Dates are UTC day numbers, money in cents.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from pipeline.demo.subscription_truth import SeenSubscription
from pipeline.demo.timeline import utc_day
from pipeline.settings import DEFAULT_DELINQUENCY_DAYS

DELINQUENCY_DAYS = DEFAULT_DELINQUENCY_DAYS  # LTV_DELINQUENCY_DAYS of the truth
DAY = 86400
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """A subscription with a payment above zero, its start, end and MRR rule applied."""

    seen: SeenSubscription
    started_at: int
    ended_at: int | None
    end_reason: str | None

    @property
    def has_mrr(self) -> bool:
        return self.seen.kind == "recurring" and self.seen.frequency in ("month", "year")

    def mrr(self, cents: int) -> int:
        """A payment as MRR: a year's payment is a twelfth, rounded half up."""
        return cents if self.seen.frequency == "month" else (cents + 6) // 12

    @property
    def first_amount(self) -> int:
        return next(cents for _, _, cents in self.seen.payments if cents > 0)

    def monthly(self, days: list[int]) -> list[int]:
        """MRR at the end of each UTC day number of `days` (ascending): that of the latest
        payment above zero by then; 0 before the start and from the end's day on."""
        paid = [(utc_day(at), cents) for at, _, cents in self.seen.payments if cents > 0]
        start = paid[0][0]
        end = None if self.ended_at is None else utc_day(self.ended_at)
        series, latest, next_paid = [], 0, 0
        for day in days:
            while next_paid < len(paid) and paid[next_paid][0] <= day:
                latest, next_paid = paid[next_paid][1], next_paid + 1
            active = start <= day and (end is None or day < end)
            series.append(self.mrr(latest) if active else 0)
        return series


def lifecycle(seen: SeenSubscription, as_of: int) -> Lifecycle | None:
    """The subscription's start and end, None when it never collected more than zero."""
    started = next((at for at, _, cents in seen.payments if cents > 0), None)
    if started is None:
        return None
    last_payment = max(at for at, _, _ in seen.payments)
    failed = min((at for at in seen.failures.values() if at > last_payment), default=None)
    lapsed = None if failed is None else failed + DELINQUENCY_DAYS * DAY
    if lapsed is not None and lapsed > as_of:
        lapsed = None
    cancelled = seen.cancelled_at
    if cancelled is not None:
        cancelled = max(cancelled, last_payment)
    ends = [at for at in (lapsed, cancelled) if at is not None]
    ended = min(ends) if ends else None
    if ended is None:
        return Lifecycle(seen, started, None, None)
    reason = "delinquent" if failed is not None and failed <= ended else "voluntary"
    return Lifecycle(seen, started, ended, reason)


def month_ends(first: date, as_of_day: int) -> Iterator[tuple[date, int]]:
    """(month, the day number MRR is taken at) from `first`'s month to as_of's."""
    month, last = first.replace(day=1), _EPOCH + timedelta(days=as_of_day)
    while month <= last:
        following = (month + timedelta(days=32)).replace(day=1)
        yield month, min((following - _EPOCH).days - 1, as_of_day)
        month = following


def month_of(t: int) -> date:
    return (_EPOCH + timedelta(days=utc_day(t))).replace(day=1)

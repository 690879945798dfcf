"""truth.json's `mrr_monthly`, `subscription_retention_cohorts`, `failed_payment_recovery` and
`split_pay_plans`, row for row, from the subscriptions' lifecycles (docs/marts.md,
"Subscription economics"). A subscriber is one email in one currency (the demo has one
account). Customers come one at a time and only per-month tallies are kept, so memory stays
flat however many customers the seller has. Money in cents until written; rates are exact
decimals rounded half up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from pipeline.demo.money import major
from pipeline.demo.repeat_truth import RATE, rounded
from pipeline.demo.subscription_lifecycles import (
    DAY,
    DELINQUENCY_DAYS,
    Lifecycle,
    lifecycle,
    month_ends,
    month_of,
)
from pipeline.demo.subscription_truth import SeenSubscription
from pipeline.demo.timeline import utc_day

Row = dict[str, Any]
Tally = defaultdict[str, int]


def sections(
    customers: Iterable[list[SeenSubscription]], as_of: int, account: str, currencies: list[str]
) -> dict[str, list[Row]]:
    """The four sections, currency by currency in `currencies`' order, from each simulated
    customer's subscriptions (a customer's are never split across two items)."""
    tallies = SubscriptionTallies(as_of)
    for subscriptions in customers:
        tallies.add(subscriptions)
    return {
        "mrr_monthly": [row for c in currencies for row in tallies.mrr_rows(c, account)],
        "subscription_retention_cohorts": [
            row for c in currencies for row in tallies.retention_rows(c, account)
        ],
        "failed_payment_recovery": [
            row for c in currencies for row in tallies.failure_rows(c, account)
        ],
        "split_pay_plans": [row for c in currencies for row in tallies.split_pay_rows(c, account)],
    }


def _rate(numerator: int, denominator: int) -> str | None:
    return rounded(numerator, denominator, RATE) if denominator else None


class SubscriptionTallies:
    """The four marts' sums, keyed by currency and month (or product), added to customer by
    customer once `as_of` is known."""

    def __init__(self, as_of: int) -> None:
        self.as_of, self.as_of_day = as_of, utc_day(as_of)
        self.first_month: dict[str, date] = {}  # currency -> first recurring start's month
        self.mrr: dict[tuple[str, date], Tally] = defaultdict(lambda: defaultdict(int))
        # (currency, start month) -> [subscribers, starting MRR, [retained, MRR] per month since]
        self.cohorts: dict[tuple[str, date], list[Any]] = {}
        # (currency, kind, failure month) -> recovered, not recovered, pending, recovered cents
        self.failures: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0] * 4)
        self.plans: dict[tuple[str, str, date], Tally] = defaultdict(lambda: defaultdict(int))
        self.names: dict[tuple[str, str], tuple[int, str]] = {}  # latest plan's product name

    def add(self, subscriptions: list[SeenSubscription]) -> None:
        """One simulated customer's subscriptions, as the sources reveal them."""
        subscribers: dict[tuple[str, str], list[Lifecycle]] = defaultdict(list)
        for seen in subscriptions:
            self._failed(seen)
            life = lifecycle(seen, self.as_of)
            if life is None:
                continue
            if life.has_mrr:
                subscribers[(seen.email, seen.currency)].append(life)
            elif seen.kind == "limited":
                self._plan(life)
        for (_, currency), lives in subscribers.items():
            self._subscriber(currency, lives)

    def _subscriber(self, currency: str, lives: list[Lifecycle]) -> None:
        """One subscriber's MRR at each month end from their start: their movements, and
        their start month's cohort."""
        start = min(month_of(life.started_at) for life in lives)
        self.first_month[currency] = min(self.first_month.get(currency, start), start)
        ends = list(month_ends(start, self.as_of_day))
        held = [(life, life.monthly([day for _, day in ends])) for life in lives]
        totals = [sum(series[i] for _, series in held) for i in range(len(ends))]
        first = next((i for i, cents in enumerate(totals) if cents), None)
        for i, ((month, _), current) in enumerate(zip(ends, totals, strict=True)):
            previous = totals[i - 1] if i else 0
            tally = self.mrr[(currency, month)]
            _move(tally, previous, current, i == first)
            if previous and not current:
                _churn(tally, [(life, series[i - 1]) for life, series in held])
        cohort = self.cohorts.setdefault((currency, start), [0, 0, [[0, 0] for _ in ends]])
        cohort[0] += 1
        cohort[1] += sum(
            life.mrr(life.first_amount) for life in lives if month_of(life.started_at) == start
        )
        for cell, cents in zip(cohort[2], totals, strict=True):
            cell[0] += cents > 0
            cell[1] += cents

    def mrr_rows(self, currency: str, account: str) -> Iterator[Row]:
        """Every month from the currency's first recurring start to as_of's."""
        if currency not in self.first_month:
            return
        for month, day in month_ends(self.first_month[currency], self.as_of_day):
            tally = self.mrr.get((currency, month), defaultdict(int))
            yield _mrr_row(account, currency, month, day < self.as_of_day, tally)

    def retention_rows(self, currency: str, account: str) -> Iterator[Row]:
        """Each start month's subscribers at the end of every month since, to as_of's."""
        for (c, start), (count, starting, cells) in sorted(self.cohorts.items()):
            if c != currency:
                continue
            ends = month_ends(start, self.as_of_day)
            for k, ((_, day), (retained, cents)) in enumerate(zip(ends, cells, strict=True)):
                yield {
                    "account": account,
                    "currency": currency,
                    "start_month": start.isoformat(),
                    "months_since_start": k,
                    "subscribers": count,
                    "starting_mrr": major(starting),
                    "retained_subscribers": retained,
                    "retained_mrr": major(cents),
                    "logo_retention": _rate(retained, count),
                    "net_mrr_retention": _rate(cents, starting),
                    "is_month_complete": day < self.as_of_day,
                }

    def _failed(self, seen: SeenSubscription) -> None:
        """Each failed invoice, recovered by the first rebill after its first failure if that
        came within DELINQUENCY_DAYS; not recovered once they passed; pending before."""
        for failed_at in seen.failures.values():
            deadline = failed_at + DELINQUENCY_DAYS * DAY
            rebill = next(
                ((at, c) for at, kind, c in seen.payments if kind == "rebill" and at > failed_at),
                None,
            )
            tally = self.failures[(seen.currency, seen.kind or "(unknown)", month_of(failed_at))]
            if rebill is not None and rebill[0] <= deadline:
                tally[0] += 1
                tally[3] += rebill[1]
            elif deadline <= self.as_of:
                tally[1] += 1
            else:
                tally[2] += 1

    def failure_rows(self, currency: str, account: str) -> Iterator[Row]:
        for (c, kind, month), (recovered, lost, pending, cents) in sorted(self.failures.items()):
            if c != currency:
                continue
            yield {
                "account": account,
                "currency": currency,
                "kind": kind,
                "failure_month": month.isoformat(),
                "failed_rebills": recovered + lost + pending,
                "recovered": recovered,
                "not_recovered": lost,
                "pending": pending,
                "recovery_rate": _rate(recovered, recovered + lost),
                "recovered_amount": major(cents),
            }

    def _plan(self, life: Lifecycle) -> None:
        """A split-pay plan: completed when every planned instalment was collected (or the
        export says so), cancelled when it ended before, active otherwise."""
        seen = life.seen
        tally = self.plans[(seen.currency, seen.product_id, month_of(life.started_at))]
        named = (life.started_at, seen.product_name)
        key = (seen.currency, seen.product_id)
        self.names[key] = max(self.names.get(key, named), named)
        collected, planned = len(seen.payments), seen.planned
        tally["collected"] += collected
        if seen.exported_completed or (planned is not None and collected >= planned):
            tally["completed"] += 1
        elif life.ended_at is not None:
            tally["cancelled"] += 1
        else:
            tally["active"] += 1
            if planned is None:
                tally["unknown"] += 1
            else:
                instalment = [cents for _, _, cents in seen.payments if cents > 0][-1]
                tally["outstanding"] += planned - collected
                tally["outstanding_cents"] += (planned - collected) * instalment

    def split_pay_rows(self, currency: str, account: str) -> Iterator[Row]:
        """Plans per product and start month."""
        for (c, product, month), tally in sorted(self.plans.items()):
            if c != currency:
                continue
            completed, cancelled = tally["completed"], tally["cancelled"]
            yield {
                "account": account,
                "currency": currency,
                "product_id": product,
                "product_name": self.names[(currency, product)][1],
                "start_month": month.isoformat(),
                "plans": completed + cancelled + tally["active"],
                "completed": completed,
                "cancelled": cancelled,
                "active": tally["active"],
                "completion_rate": _rate(completed, completed + cancelled),
                "instalments_collected": tally["collected"],
                "instalments_outstanding": tally["outstanding"],
                "outstanding_amount": major(tally["outstanding_cents"]),
                "plans_with_unknown_schedule": tally["unknown"],
            }


def _move(tally: dict[str, int], previous: int, current: int, first: bool) -> None:
    """One subscriber's change between two month ends, into the month's tallies."""
    tally["opening_mrr"] += previous
    tally["closing_mrr"] += current
    tally["opening_subscribers"] += previous > 0
    tally["closing_subscribers"] += current > 0
    if not previous and current:
        movement = "new" if first else "reactivation"
    elif previous and not current:
        movement = "churned"
    elif current != previous:
        movement = "expansion" if current > previous else "contraction"
    else:
        return
    tally[f"{movement}_mrr"] += current - previous
    tally[f"{movement}_subscribers"] += 1


def _churn(tally: dict[str, int], held: list[tuple[Lifecycle, int]]) -> None:
    """A churned subscriber's MRR by how each subscription ended, and the subscriber by the
    last one to end (voluntary on a tie)."""
    last: dict[str, int] = {}
    for life, cents in held:
        if cents and life.end_reason is not None and life.ended_at is not None:
            tally[f"churned_mrr_{life.end_reason}"] -= cents
            last[life.end_reason] = max(last.get(life.end_reason, 0), life.ended_at)
    delinquent = last.get("delinquent", -1) > last.get("voluntary", -1)
    tally[f"churned_subscribers_{'delinquent' if delinquent else 'voluntary'}"] += 1


def _mrr_row(account: str, currency: str, month: date, complete: bool, tally: dict) -> Row:
    money = ("opening", "new", "expansion", "reactivation", "contraction", "churned")
    return (
        {"account": account, "currency": currency, "month": month.isoformat()}
        | {f"{name}_mrr": major(tally[f"{name}_mrr"]) for name in money}
        | {
            "churned_mrr_voluntary": major(tally["churned_mrr_voluntary"]),
            "churned_mrr_delinquent": major(tally["churned_mrr_delinquent"]),
            "closing_mrr": major(tally["closing_mrr"]),
            "opening_subscribers": tally["opening_subscribers"],
            "new_subscribers": tally["new_subscribers"],
            "reactivated_subscribers": tally["reactivation_subscribers"],
            "expanded_subscribers": tally["expansion_subscribers"],
            "contracted_subscribers": tally["contraction_subscribers"],
            "churned_subscribers": tally["churned_subscribers"],
            "churned_subscribers_voluntary": tally["churned_subscribers_voluntary"],
            "churned_subscribers_delinquent": tally["churned_subscribers_delinquent"],
            "closing_subscribers": tally["closing_subscribers"],
            "is_month_complete": complete,
        }
    )

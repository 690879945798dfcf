"""truth.json's `mrr_monthly`, `subscription_retention_cohorts`, `failed_payment_recovery` and
`split_pay_plans`, row for row, from the subscriptions' lifecycles (docs/marts.md,
"Subscription economics"). A subscriber is one email in one currency (the demo has one
account). Money in cents until written; rates are exact decimals rounded half up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
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


def sections(
    seen: list[SeenSubscription], as_of: int, account: str, currencies: list[str]
) -> dict[str, list[Row]]:
    """The four sections, currency by currency in `currencies`' order."""
    lives = [life for s in seen if (life := lifecycle(s, as_of)) is not None]
    as_of_day = utc_day(as_of)
    recurring = [life for life in lives if life.has_mrr]
    limited = [life for life in lives if life.seen.kind == "limited"]
    by_currency = {c: _lives_in(recurring, c) for c in currencies}
    return {
        "mrr_monthly": [
            row for c in currencies for row in _mrr_rows(by_currency[c], as_of_day, account)
        ],
        "subscription_retention_cohorts": [
            row for c in currencies for row in _retention_rows(by_currency[c], as_of_day, account)
        ],
        "failed_payment_recovery": [
            row
            for c in currencies
            for row in _failure_rows([s for s in seen if s.currency == c], as_of, account)
        ],
        "split_pay_plans": [
            row for c in currencies for row in _split_pay_rows(_lives_in(limited, c), account)
        ],
    }


def _lives_in(lives: list[Lifecycle], currency: str) -> list[Lifecycle]:
    return [life for life in lives if life.seen.currency == currency]


def _rate(numerator: int, denominator: int) -> str | None:
    return rounded(numerator, denominator, RATE) if denominator else None


def _monthly(lives: list[Lifecycle], as_of_day: int) -> tuple[list[tuple[date, int]], dict]:
    """The month ends from the first start, and each subscriber's subscriptions with their MRR
    at every one of them."""
    ends = list(month_ends(min(month_of(life.started_at) for life in lives), as_of_day))
    days = [day for _, day in ends]
    subscribers: dict[str, list[tuple[Lifecycle, list[int]]]] = defaultdict(list)
    for life in lives:
        subscribers[life.seen.email].append((life, life.monthly(days)))
    return ends, subscribers


def _mrr_rows(lives: list[Lifecycle], as_of_day: int, account: str) -> Iterator[Row]:
    if not lives:
        return
    ends, subscribers = _monthly(lives, as_of_day)
    sums = [defaultdict(int) for _ in ends]
    for subscriptions in subscribers.values():
        totals = [sum(series[i] for _, series in subscriptions) for i in range(len(ends))]
        first = next((i for i, cents in enumerate(totals) if cents), None)
        for i, current in enumerate(totals):
            previous = totals[i - 1] if i else 0
            _move(sums[i], previous, current, i == first)
            if previous and not current:
                _churn(sums[i], [(life, series[i - 1]) for life, series in subscriptions])
    for (month, day), tally in zip(ends, sums, strict=True):
        yield _mrr_row(account, lives[0].seen.currency, month, day < as_of_day, tally)


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


def _retention_rows(lives: list[Lifecycle], as_of_day: int, account: str) -> Iterator[Row]:
    if not lives:
        return
    ends, subscribers = _monthly(lives, as_of_day)
    months = [month for month, _ in ends]
    # start month index -> [subscribers, starting MRR, retained and MRR per month since]
    cohorts: dict[int, list[Any]] = {}
    for subscriptions in subscribers.values():
        start = min(months.index(month_of(life.started_at)) for life, _ in subscriptions)
        cohort = cohorts.setdefault(start, [0, 0, [[0, 0] for _ in months[start:]]])
        cohort[0] += 1
        cohort[1] += sum(
            life.mrr(life.first_amount)
            for life, _ in subscriptions
            if months.index(month_of(life.started_at)) == start
        )
        for k, cell in enumerate(cohort[2]):
            cents = sum(series[start + k] for _, series in subscriptions)
            cell[0] += cents > 0
            cell[1] += cents
    for start, (count, starting, cells) in sorted(cohorts.items()):
        for k, (retained, cents) in enumerate(cells):
            yield {
                "account": account,
                "currency": lives[0].seen.currency,
                "start_month": months[start].isoformat(),
                "months_since_start": k,
                "subscribers": count,
                "starting_mrr": major(starting),
                "retained_subscribers": retained,
                "retained_mrr": major(cents),
                "logo_retention": _rate(retained, count),
                "net_mrr_retention": _rate(cents, starting),
                "is_month_complete": ends[start + k][1] < as_of_day,
            }


def _failure_rows(seen: list[SeenSubscription], as_of: int, account: str) -> Iterator[Row]:
    """Each failed invoice, recovered by the first rebill after its first failure if that
    came within DELINQUENCY_DAYS; not recovered once they passed; pending before."""
    tallies: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for sub in seen:
        for failed_at in sub.failures.values():
            deadline = failed_at + DELINQUENCY_DAYS * DAY
            rebill = next(
                ((at, c) for at, kind, c in sub.payments if kind == "rebill" and at > failed_at),
                None,
            )
            tally = tallies[(sub.kind or "(unknown)", month_of(failed_at))]
            if rebill is not None and rebill[0] <= deadline:
                tally[0] += 1
                tally[3] += rebill[1]
            elif deadline <= as_of:
                tally[1] += 1
            else:
                tally[2] += 1
    for (kind, month), (recovered, lost, pending, cents) in sorted(tallies.items()):
        yield {
            "account": account,
            "currency": seen[0].currency,
            "kind": kind,
            "failure_month": month.isoformat(),
            "failed_rebills": recovered + lost + pending,
            "recovered": recovered,
            "not_recovered": lost,
            "pending": pending,
            "recovery_rate": _rate(recovered, recovered + lost),
            "recovered_amount": major(cents),
        }


def _split_pay_rows(lives: list[Lifecycle], account: str) -> Iterator[Row]:
    """Plans per product and start month: completed when every planned instalment was
    collected (or the export says so), cancelled when they ended before, active otherwise."""
    groups: dict[tuple[str, date], list[Lifecycle]] = defaultdict(list)
    names: dict[str, tuple[int, str]] = {}
    for life in lives:
        groups[(life.seen.product_id, month_of(life.started_at))].append(life)
        named = (life.started_at, life.seen.product_name)
        names[life.seen.product_id] = max(names.get(life.seen.product_id, named), named)
    for (product, month), plans in sorted(groups.items()):
        tally: dict[str, int] = defaultdict(int)
        for life in plans:
            _plan(tally, life)
        yield {
            "account": account,
            "currency": plans[0].seen.currency,
            "product_id": product,
            "product_name": names[product][1],
            "start_month": month.isoformat(),
            "plans": len(plans),
            "completed": tally["completed"],
            "cancelled": tally["cancelled"],
            "active": tally["active"],
            "completion_rate": _rate(tally["completed"], tally["completed"] + tally["cancelled"]),
            "instalments_collected": tally["collected"],
            "instalments_outstanding": tally["outstanding"],
            "outstanding_amount": major(tally["outstanding_cents"]),
            "plans_with_unknown_schedule": tally["unknown"],
        }


def _plan(tally: dict[str, int], life: Lifecycle) -> None:
    seen = life.seen
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

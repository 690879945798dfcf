"""truth.json: what the pipeline must compute, derived from the generator's own events.

It never reads the generated files back. It counts what the pipeline can know: live payments in
the latest export (events up to its download) or in a delivered webhook. Everything follows the
"Semantics" section of docs/interfaces.md: amounts include tax, refunds are dated by the refund
webhook when one arrived and by the original order otherwise, acquisition is the first payment
above zero, day-N windows and `as_of` in UTC. Arithmetic is in integer cents. Repeat purchases
and product paths are counted by `pipeline.demo.repeat_truth`, the subscription sections by
`pipeline.demo.subscription_marts`.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from pipeline.demo.catalog import Offer
from pipeline.demo.cost_inputs import DEMO_REPORTING_CURRENCY, cost_inputs
from pipeline.demo.events import Cancel, Checkout, Event, Order, Rebill, RebillFailed, Refund
from pipeline.demo.margin_truth import CAC_DAYS, CacTallies, MoneyRules
from pipeline.demo.money import major
from pipeline.demo.repeat_truth import RepeatPurchases, purchases
from pipeline.demo.subscription_marts import sections as subscription_sections
from pipeline.demo.subscription_truth import (
    SeenSubscription,
    observe_subscriptions,
    read_subscriptions_line,
)
from pipeline.demo.timeline import Timeline, iso_z, utc_date, utc_day
from pipeline.demo.traffic import passthrough_for
from pipeline.demo.world import World
from pipeline.settings import DEFAULT_DAY_N

CustomerKey = tuple[str, str]  # (lower(trim(email)), currency)
# The traffic segments of ltv_day_n, and their values for an acquiring order without a
# webhook (history from exports only) and for a key its webhook did not carry.
UTM_SEGMENTS = ("utm_source", "utm_medium", "utm_campaign")
NOT_TRACKED, NO_VALUE = "(not tracked)", "(none)"


@dataclass(slots=True)
class Payment:
    kind: str  # charge | rebill | refund
    amount: int  # signed cents
    paid_at: int
    order_id: str
    product_id: str
    recurring: bool  # belongs to a subscription or split pay
    offer: Offer  # the item sold, for its name at the time
    processor: str
    # Set by customer_entries: amount less processor fee and product cost, and both in the
    # reporting currency (None without a rate)
    margin: int = 0
    amount_reporting: int | None = None
    margin_reporting: int | None = None


def _order_of(event: Event) -> Order:
    if isinstance(event, Checkout | Refund):
        return event.order
    assert isinstance(event, Rebill | RebillFailed | Cancel)
    return event.sub.order


def _key(order: Order) -> CustomerKey:
    return order.buyer.email.strip().lower(), order.currency


def _csv_dated(event: Event, timeline: Timeline) -> int | None:
    """When the latest export shows `event`: its row's date, or None if it has no row."""
    if event.at > timeline.latest_export_at or isinstance(event, RebillFailed):
        return None
    return event.order.at if isinstance(event, Refund) else event.at


def _payments(event: Event, in_csv: bool) -> list[Payment]:
    delivered = event.delivery is not None
    if not (in_csv or delivered):
        return []
    if isinstance(event, Checkout):
        order = event.order
        return [
            Payment(
                "charge",
                item.gross,
                order.at,
                order.order_id,
                item.offer.id_text,
                item.subscription is not None,
                item.offer,
                order.processor,
            )
            for item in order.items
        ]
    if isinstance(event, Rebill):
        sub, offer = event.sub, event.sub.item.offer
        order = sub.order
        return [
            Payment(
                "rebill", sub.gross, event.at, order.order_id, offer.id_text, True, offer,
                order.processor,
            )
        ]  # fmt: skip
    if isinstance(event, Refund):
        paid_at = event.at if delivered else event.order.at
        item = event.item
        recurring = item.subscription is not None
        return [
            Payment(
                "refund",
                -event.gross,
                paid_at,
                event.order.order_id,
                item.offer.id_text,
                recurring,
                item.offer,
                event.order.processor,
            )
        ]
    return []


@dataclass
class Observed:
    """What the sources reveal about one customer (all currencies)."""

    payments: dict[CustomerKey, list[Payment]] = field(default_factory=dict)
    customer_ids: dict[CustomerKey, set[str]] = field(default_factory=dict)
    # order id -> the passthrough its delivered `order.success` carried ({} when none)
    tracked_orders: dict[str, dict[str, str]] = field(default_factory=dict)
    subscriptions: list[SeenSubscription] = field(default_factory=list)
    as_of: int = 0


def observe(events: list[Event], timeline: Timeline) -> Observed:
    """The live payments, ThriveCart customer ids and latest event time the sources show."""
    seen = Observed()
    for event in events:
        order = _order_of(event)
        if not order.live:
            continue
        key = _key(order)
        dated = _csv_dated(event, timeline)
        if event.delivery is not None:
            seen.as_of = max(seen.as_of, event.at)
            seen.customer_ids.setdefault(key, set()).add(order.buyer.customer_id)
            if isinstance(event, Checkout):
                seen.tracked_orders[order.order_id] = passthrough_for(order.order_id)
        if dated is not None:
            seen.as_of = max(seen.as_of, dated)
        payments = _payments(event, dated is not None)
        if payments:
            seen.payments.setdefault(key, []).extend(payments)
    seen.subscriptions = observe_subscriptions(events, timeline)
    return seen


@dataclass
class TruthTotals:
    """Aggregates over customers; small, mergeable across chunks."""

    totals: dict[str, list[int]] = field(default_factory=dict)  # charges, rebills, refunds, n
    # (currency, cohort month) -> customers, net, margin
    cohorts: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    # (currency, segment type, segment value, first paid UTC day number) -> customers, then
    # net within each day N on the cash clock, then on the charge clock, then margin (cash)
    day_n: dict[tuple[str, str, str, int], list[int]] = field(default_factory=dict)
    repeat: RepeatPurchases = field(default_factory=RepeatPurchases)
    cac: CacTallies = field(default_factory=CacTallies)
    # payments converted at a rate of an earlier day, and payments with no rate
    fx_counts: list[int] = field(default_factory=lambda: [0, 0])
    # The subscriptions are not here: a lifecycle's end depends on as_of, known only once every
    # chunk is in, so they go to a work file that write_truth reads back (subscription_truth).
    as_of: int = 0

    def add_payments(
        self, currency: str, charges: int, rebills: int, refunds: int, count: int
    ) -> None:
        """One customer's sums in `currency` (refunds as a positive amount)."""
        row = self.totals.setdefault(currency, [0, 0, 0, 0])
        for slot, value in enumerate((charges, rebills, refunds, count)):
            row[slot] += value

    def add_acquired(
        self,
        currency: str,
        first_paid_at: int,
        payments: list[Payment],
        segments: list[tuple[str, str]],
    ) -> None:
        """One acquired customer, in the day-N rows of each of their (type, value) segments."""
        cohort = self.cohorts.setdefault((currency, utc_date(first_paid_at)[:8] + "01"), [0] * 5)
        cohort[0] += 1
        for slot, value in enumerate(
            (_amount, _margin, _amount_reporting, _margin_reporting), start=1
        ):
            cohort[slot] += sum(value(p) for p in payments)
        first_day = utc_day(first_paid_at)
        # A payment counts in the narrowest window it falls in and in every wider one: sum the
        # payments by narrowest window, then add running sums, not each payment to each window.
        windows = [1]
        cash_times = [p.paid_at for p in payments]
        for times, value in (
            (cash_times, _amount),
            (_charge_clock_times(payments), _amount),
            (cash_times, _margin),
            (cash_times, _amount_reporting),
            (cash_times, _margin_reporting),
        ):
            narrowest = [0] * (len(DEFAULT_DAY_N) + 1)  # the last: beyond every window
            for payment, at in zip(payments, times, strict=True):
                narrowest[bisect_left(DEFAULT_DAY_N, utc_day(at) - first_day)] += value(payment)
            running = 0
            for amount in narrowest[:-1]:
                running += amount
                windows.append(running)
        for segment_type, segment_value in segments:
            key = (currency, segment_type, segment_value, first_day)
            row = self.day_n.setdefault(key, [0] * len(windows))
            for slot, value in enumerate(windows):
                row[slot] += value

    def merge(self, other: TruthTotals) -> None:
        for mine, theirs in (
            (self.totals, other.totals),
            (self.cohorts, other.cohorts),
            (self.day_n, other.day_n),
        ):
            for key, values in theirs.items():
                row = mine.setdefault(key, [0] * len(values))
                for slot, value in enumerate(values):
                    row[slot] += value
        self.repeat.merge(other.repeat)
        self.cac.merge(other.cac)
        self.fx_counts = [
            mine + theirs for mine, theirs in zip(self.fx_counts, other.fx_counts, strict=True)
        ]
        self.as_of = max(self.as_of, other.as_of)


def _amount(payment: Payment) -> int:
    return payment.amount


def _margin(payment: Payment) -> int:
    return payment.margin


def _amount_reporting(payment: Payment) -> int:
    return payment.amount_reporting or 0


def _margin_reporting(payment: Payment) -> int:
    return payment.margin_reporting or 0


def set_money(
    payments: list[Payment], currency: str, account: str, money: MoneyRules, totals: TruthTotals
) -> None:
    """Each payment's margin (charges and rebills above zero less their fee and cost) and
    both amounts in the reporting currency; counts conversions at an earlier rate and none."""
    rules = money.costs
    for payment in payments:
        day, offer = utc_date(payment.paid_at), payment.offer
        payment.margin = payment.amount
        if payment.kind != "refund" and payment.amount > 0:
            payment.margin -= rules.fee(account, payment.processor, currency, payment.amount, day)
            payment.margin -= rules.cost(
                account, (offer.item_type, str(offer.item_id)), currency, day
            )
        if currency == money.reporting:
            payment.amount_reporting, payment.margin_reporting = payment.amount, payment.margin
            continue
        rate = money.rates.rate(currency, money.reporting, day)
        if rate is None:
            totals.fx_counts[1] += 1
            continue
        payment.amount_reporting = rate.apply(payment.amount)
        payment.margin_reporting = rate.apply(payment.margin)
        totals.fx_counts[0] += rate.day < day


def _converted_sum(payments: list[Payment], value: Callable[[Payment], int]) -> str | None:
    """A converted sum as SQL adds it up: None when no payment had a rate."""
    if all(p.amount_reporting is None for p in payments):
        return None
    return major(sum(value(p) for p in payments))


def customer_entries(
    seen: Observed, totals: TruthTotals, account: str, money: MoneyRules
) -> list[dict[str, Any]]:
    """truth.json `customers` entries of one simulated person; adds them to `totals`.

    One pass over each customer's payments gathers every figure: this runs for every customer
    of the seller, so each extra pass shows."""
    entries = []
    for (email, currency), payments in seen.payments.items():
        set_money(payments, currency, account, money, totals)
        charges = rebills = refunds = rebill_count = 0
        orders: set[str] = set()
        recurring, first = False, None
        for payment in payments:
            kind, amount = payment.kind, payment.amount
            recurring = recurring or payment.recurring
            if kind == "refund":
                refunds -= amount
                continue
            if kind == "charge":
                charges += amount
                orders.add(payment.order_id)
            else:
                rebills += amount
                rebill_count += 1
            if amount > 0 and (first is None or payment.paid_at < first.paid_at):
                first = payment  # the earliest payment above zero, the first of equals
        totals.add_payments(currency, charges, rebills, refunds, len(payments))
        utm = acquisition_utm(seen, first.order_id) if first else dict.fromkeys(UTM_SEGMENTS)
        if first is not None:
            segments = [("all", "all")] + [(name, utm[name]) for name in UTM_SEGMENTS]
            totals.add_acquired(currency, first.paid_at, payments, segments)
            group = (currency, utc_date(first.paid_at)[:8] + "01")
            group += (utm["utm_source"].lower(), utm["utm_campaign"].lower())
            margins = [(p.paid_at, p.amount, p.margin) for p in payments]
            totals.cac.add(group, first.paid_at, margins)
            bought = purchases(payments)
            assert bought[0] is first, "the acquiring payment opens the first purchase"
            totals.repeat.add(currency, bought)
        gross = charges + rebills
        entries.append(
            {
                "email": email,
                "currency": currency,
                "gross": major(gross),
                "refunds": major(refunds),
                "net": major(gross - refunds),
                "first_paid_at": iso_z(first.paid_at) if first else None,
                "cohort_month": utc_date(first.paid_at)[:8] + "01" if first else None,
                "first_order_id": first.order_id if first else None,
                "first_product_id": first.product_id if first else None,
                "orders_count": len(orders),
                "rebills_count": rebill_count,
                "one_time_only": not recurring,
                "thrivecart_customer_ids": sorted(seen.customer_ids.get((email, currency), ())),
                "net_margin": major(sum(p.margin for p in payments)),
                "net_revenue_reporting": _converted_sum(payments, _amount_reporting),
                "net_margin_reporting": _converted_sum(payments, _margin_reporting),
            }
            | {f"acquisition_{name}": value for name, value in utm.items()}
        )
    totals.as_of = max(totals.as_of, seen.as_of)
    return entries


def _charge_clock_times(payments: list[Payment]) -> list[int]:
    """Each payment's time on the charge clock: its own, or for a refund that of the latest
    charge or rebill of the same order and product at or before it (its own when none)."""
    paid: dict[tuple[str, str], list[int]] = {}
    for payment in payments:
        if payment.kind != "refund":
            paid.setdefault((payment.order_id, payment.product_id), []).append(payment.paid_at)
    return [
        max(
            (t for t in paid.get((p.order_id, p.product_id), ()) if t <= p.paid_at),
            default=p.paid_at,
        )
        if p.kind == "refund"
        else p.paid_at
        for p in payments
    ]


def acquisition_utm(seen: Observed, first_order_id: str) -> dict[str, str]:
    """The acquiring order's utm_source, _medium and _campaign as the marts segment them:
    "(not tracked)" without its `order.success` webhook, "(none)" for a key it did not carry."""
    passthrough = seen.tracked_orders.get(first_order_id)
    if passthrough is None:
        return dict.fromkeys(UTM_SEGMENTS, NOT_TRACKED)
    return {name: passthrough.get(name) or NO_VALUE for name in UTM_SEGMENTS}


def _day_n_rows(totals: TruthTotals, currency: str) -> Iterator[dict[str, Any]]:
    as_of_day = utc_day(totals.as_of)
    segments: dict[tuple[str, str], list[tuple[int, list[int]]]] = {}
    for (c, segment_type, segment_value, day), v in sorted(totals.day_n.items()):
        if c == currency:
            segments.setdefault((segment_type, segment_value), []).append((day, v))
    charge_clock = len(DEFAULT_DAY_N)  # its windows follow the cash clock's
    for (segment_type, segment_value), rows in segments.items():
        for slot, n in enumerate(DEFAULT_DAY_N, start=1):
            eligible = [v for day, v in rows if day + n <= as_of_day]
            yield {
                "currency": currency,
                "segment_type": segment_type,
                "segment_value": segment_value,
                "day_n": n,
                "customers": sum(v[0] for _, v in rows),
                "eligible_customers": sum(v[0] for v in eligible),
                "net_revenue": major(sum(v[slot] for v in eligible)),
                "net_revenue_charge_clock": major(sum(v[slot + charge_clock] for v in eligible)),
                "net_margin": major(sum(v[slot + 2 * charge_clock] for v in eligible)),
                "net_revenue_reporting": major(sum(v[slot + 3 * charge_clock] for v in eligible)),
                "net_margin_reporting": major(sum(v[slot + 4 * charge_clock] for v in eligible)),
            }


def _aggregates(
    totals: TruthTotals, world: World, currencies: list[str], subscriptions_jsonl: Path
) -> dict[str, list[dict[str, Any]]]:
    account = world.plan.account
    cohorts = [
        {
            "currency": c,
            "cohort_month": month,
            "customers": v[0],
            "net": major(v[1]),
            "margin": major(v[2]),
            "net_reporting": major(v[3]),
            "margin_reporting": major(v[4]),
        }
        for c in currencies
        for (cur, month), v in sorted(totals.cohorts.items())
        if cur == c
    ]
    day_n = [row for c in currencies for row in _day_n_rows(totals, c)]
    sums = [
        {
            "currency": c,
            "charges": major(v[0]),
            "rebills": major(v[1]),
            "refunds": major(v[2]),
            "net": major(v[0] + v[1] - v[2]),
            "payments": v[3],
        }
        for c, v in ((c, totals.totals[c]) for c in currencies)
    ]
    with subscriptions_jsonl.open(encoding="utf-8") as lines:
        customers = map(read_subscriptions_line, lines)
        subscriptions = subscription_sections(customers, totals.as_of, account, currencies)
    return (
        {"cohorts": cohorts, "day_n": day_n, "totals": sums}
        | totals.repeat.sections(account, currencies)
        | subscriptions
        | {"cac_cohorts": list(totals.cac.rows(account, cost_inputs(world), totals.as_of))}
    )


def _write_list(out: TextIO, name: str, lines: Iterator[str], last: bool) -> None:
    out.write(f'"{name}": [')
    for number, line in enumerate(lines):
        out.write(("\n" if number == 0 else ",\n") + line)
    out.write("]" + ("}\n" if last else ",\n"))


def write_truth(
    path: Path, world: World, totals: TruthTotals, customers_jsonl: Path, subscriptions_jsonl: Path
) -> None:
    """Write truth.json, streaming the customer entries from `customers_jsonl` and each
    customer's subscriptions from `subscriptions_jsonl` (one per line)."""
    plan = world.plan
    currencies = [c for c in world.catalog.currencies if c in totals.totals]
    header = {
        "seed": plan.seed,
        "customers_requested": plan.customers,
        "as_of": iso_z(totals.as_of),
        "webhook_setup_at": iso_z(world.timeline.webhook_setup_at),
        "account": plan.account,
        "secret": plan.secret,
        "csv_timezone": plan.csv_timezone,
        "currencies": currencies,
        "reporting_currency": DEMO_REPORTING_CURRENCY,
        "payments_converted_at_earlier_rate": totals.fx_counts[0],
        "payments_not_converted": totals.fx_counts[1],
    }
    aggregates = _aggregates(totals, world, currencies, subscriptions_jsonl)
    with path.open("w", encoding="utf-8", newline="") as out, customers_jsonl.open() as source:
        out.write("{" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in header.items()))
        out.write(",\n")
        _write_list(out, "customers", (line.rstrip("\n") for line in source), last=False)
        for number, (name, rows) in enumerate(aggregates.items()):
            lines = (json.dumps(row) for row in rows)
            _write_list(out, name, lines, last=number == len(aggregates) - 1)


class TruthError(ValueError):
    """truth.json is missing or malformed; the message names the file and the problem."""


# The fields written as decimal strings (money, rates, medians), per section; null stays None.
_DECIMALS = {
    "customers": (
        "gross",
        "refunds",
        "net",
        "net_margin",
        "net_revenue_reporting",
        "net_margin_reporting",
    ),
    "cohorts": ("net", "margin", "net_reporting", "margin_reporting"),
    "day_n": (
        "net_revenue",
        "net_revenue_charge_clock",
        "net_margin",
        "net_revenue_reporting",
        "net_margin_reporting",
    ),
    "totals": ("charges", "rebills", "refunds", "net"),
    "repeat_purchase_cohorts": (
        "repeat_rate",
        "median_days_to_second_order",
        "avg_orders_per_customer",
    ),
    "customers_by_order_count": (),
    "product_paths": ("share_of_first_product_buyers", "median_days_between"),
    "mrr_monthly": (
        "opening_mrr",
        "new_mrr",
        "expansion_mrr",
        "reactivation_mrr",
        "contraction_mrr",
        "churned_mrr",
        "churned_mrr_voluntary",
        "churned_mrr_delinquent",
        "closing_mrr",
    ),
    "subscription_retention_cohorts": (
        "starting_mrr",
        "retained_mrr",
        "logo_retention",
        "net_mrr_retention",
    ),
    "failed_payment_recovery": ("recovery_rate", "recovered_amount"),
    "split_pay_plans": ("completion_rate", "outstanding_amount"),
    "cac_cohorts": (
        "spend",
        "cac",
        "net_revenue",
        "net_margin",
        "ltv_to_date",
        "margin_ltv_to_date",
        *(f"{name}_{n}" for n in CAC_DAYS for name in ("ltv", "margin_ltv")),
        "margin_ltv_to_cac",
    ),
}


def load_truth(path: Path) -> dict[str, Any]:
    """Read truth.json (or `<landing dir>/_demo/truth.json`) with money, rates and medians
    as `Decimal`."""
    if path.is_dir():
        path = path / "_demo" / "truth.json"
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TruthError(
            f"{path}: cannot read the demo truth ({exc}); regenerate it with `ltv demo-data`."
        ) from exc
    for section, fields in _DECIMALS.items():
        if section not in truth:
            raise TruthError(f"{path}: no {section!r} section; regenerate it with `ltv demo-data`.")
        for row in truth[section]:
            for name in fields:
                row[name] = None if row[name] is None else Decimal(row[name])
    return truth

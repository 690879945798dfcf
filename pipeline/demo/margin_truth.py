"""truth.json's margins and CAC, worked out from the demo's cost rules without dbt.

The rules of docs/costs.md: a charge or rebill above zero pays the fee of the rule in force on
its UTC day for its account, processor and currency (an exact account first, then an exact
processor), `amount × percent / 100` rounded half up to the cent plus the fixed part, and the
cost per sale of its item's rule; a refund returns neither. `cac_cohorts` groups acquired
customers by currency, acquisition month, utm_source and utm_campaign, with '*' totals, and
meets them with the spend of the same month and currency. A conversion to the reporting
currency takes, of the bases quoting both currencies (the euro first), each currency's latest
rate on or before the payment's day and rounds half up to the cent. Arithmetic is in integer
cents.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pipeline.demo.cost_inputs import EVERY, CostInputs
from pipeline.demo.money import major
from pipeline.demo.repeat_truth import rounded
from pipeline.demo.timeline import utc_date, utc_day

CAC_DAYS = (30, 90, 365)
CENT = Decimal("0.01")
NO_CAMPAIGN = "(none)"

GroupKey = tuple[str, str, str, str]  # (currency, cohort month, channel, campaign)


_Rule = tuple[tuple[str, ...], str, Any]  # (key, valid_from, value)


class _Timelines:
    """Rules by key, each key's valid_from dates sorted once when built, so finding the one in
    force on a day is a bisection (a payment looks up several keys)."""

    def __init__(self, rules: Iterable[_Rule]) -> None:
        by_key: dict[tuple[str, ...], list[tuple[str, Any]]] = {}
        for key, valid_from, value in rules:
            by_key.setdefault(key, []).append((valid_from, value))
        self._timelines: dict[tuple[str, ...], tuple[list[str], list[Any]]] = {}
        for key, timeline in by_key.items():
            timeline.sort(key=lambda rule: rule[0])  # stable: of equal dates the last one wins
            self._timelines[key] = ([day for day, _ in timeline], [v for _, v in timeline])

    def in_force(self, key: tuple[str, ...], day: str) -> Any:
        dates, values = self._timelines.get(key, ([], []))
        index = bisect_right(dates, day)
        return values[index - 1] if index else None


@dataclass(frozen=True)
class CrossRate:
    """The two rates that convert one currency into another on a day, against one base. Kept
    apart, not divided: amount × to / source is what rounds like the SQL."""

    to: Decimal
    source: Decimal
    day: str  # the older of the two rates' dates

    def apply(self, cents: int) -> int:
        """`cents` converted, rounded half away from zero to the cent."""
        value = Decimal(cents) * self.to / self.source
        return int(value.quantize(Decimal(1), ROUND_HALF_UP))


class FxRates:
    """The demo's exchange rates by base and currency, a base quoting itself at 1 on every
    day it quotes anything."""

    def __init__(self, inputs: CostInputs) -> None:
        rates: dict[tuple[str, str], dict[str, Decimal]] = {}
        for rate in inputs.rates:
            rates.setdefault((rate.base, rate.currency), {})[rate.day] = rate.rate
            rates.setdefault((rate.base, rate.base), {})[rate.day] = Decimal(1)
        self._days = {key: sorted(days) for key, days in rates.items()}
        self._rates = rates
        self._bases = sorted({base for base, _ in rates}, key=lambda b: (b != "EUR", b))

    def _latest(self, key: tuple[str, str], day: str) -> tuple[str, Decimal] | None:
        days = self._days.get(key, [])
        index = bisect_right(days, day)
        return (days[index - 1], self._rates[key][days[index - 1]]) if index else None

    def rate(self, currency: str, to: str, day: str) -> CrossRate | None:
        """The rates from `currency` to `to` on `day`, looked up once for every amount of a
        payment; None without rates."""
        for base in self._bases:
            source, target = self._latest((base, currency), day), self._latest((base, to), day)
            if source and target:
                return CrossRate(target[1], source[1], min(source[0], target[0]))
        return None

    def convert(self, cents: int, currency: str, to: str, day: str) -> tuple[int, str] | None:
        """`cents` of `currency` in `to` on `day`, and the date of the older rate used; None
        without rates."""
        rate = self.rate(currency, to, day)
        return (rate.apply(cents), rate.day) if rate else None


@dataclass
class CostRules:
    """The demo's fee and cost rules, indexed for one lookup per payment."""

    fees: _Timelines
    costs: _Timelines

    @classmethod
    def of(cls, inputs: CostInputs) -> CostRules:
        fees = _Timelines(
            ((fee.account, fee.processor, fee.currency), fee.valid_from, (fee.percent, fee.fixed))
            for fee in inputs.fees
        )
        costs = _Timelines(
            ((EVERY, cost.item_type, cost.product_id, cost.currency), cost.valid_from, cost.cost)
            for cost in inputs.costs
        )
        return cls(fees, costs)

    def fee(self, account: str, processor: str, currency: str, cents: int, day: str) -> int:
        """The processor fee of a charge of `cents` (0 when no rule covers it)."""
        for key in ((account, processor), (account, EVERY), (EVERY, processor), (EVERY, EVERY)):
            rule = self.fees.in_force((*key, currency), day)
            if rule is not None:
                percent, fixed = rule
                share = (Decimal(cents) * percent / 100).quantize(Decimal(1), ROUND_HALF_UP)
                return int(share) + fixed
        return 0

    def cost(self, account: str, item: tuple[str, str], currency: str, day: str) -> int:
        """The product cost of one paid charge or rebill of `item` (item type, id)."""
        for owner in (account, EVERY):
            cost = self.costs.in_force((owner, *item, currency), day)
            if cost is not None:
                return cost
        return 0


@dataclass
class MoneyRules:
    """Everything that turns a payment's amount into its margin and converted amounts."""

    costs: CostRules
    rates: FxRates
    reporting: str  # the currency *_reporting amounts are in

    @classmethod
    def of(cls, inputs: CostInputs, reporting: str) -> MoneyRules:
        return cls(CostRules.of(inputs), FxRates(inputs), reporting)


def _months_between(first_month: str, day: str) -> int:
    years, months = int(day[:4]) - int(first_month[:4]), int(day[5:7]) - int(first_month[5:7])
    return max(years * 12 + months, 0)


@dataclass
class CacTallies:
    """Acquired customers per group, mergeable across chunks: [customers, latest acquisition
    day, net, margin, then net and margin within each CAC_DAYS window]; margin per month since
    acquisition, by group, so payback reads its own group's months only."""

    groups: dict[GroupKey, list[int]] = field(default_factory=dict)
    monthly_margin: dict[GroupKey, dict[int, int]] = field(default_factory=dict)

    def add(self, key: GroupKey, first_paid_at: int, payments: list[tuple[int, int, int]]) -> None:
        """One acquired customer; `payments` are (paid_at, amount, margin) in cents."""
        currency, month, channel, campaign = key
        first_day = utc_day(first_paid_at)
        values = [1, first_day, 0, 0] + [0] * (2 * len(CAC_DAYS))
        months: dict[int, int] = {}
        for paid_at, amount, margin in payments:
            values[2] += amount
            values[3] += margin
            day = utc_day(paid_at)
            for slot, n in enumerate(CAC_DAYS):
                if day <= first_day + n:
                    values[4 + 2 * slot] += amount
                    values[5 + 2 * slot] += margin
            since = _months_between(month, utc_date(paid_at))
            months[since] = months.get(since, 0) + margin
        for group in ((channel, campaign), (channel, EVERY), (EVERY, EVERY)):
            self._add_group((currency, month, *group), values, months)

    def _add_group(self, key: GroupKey, values: list[int], months: dict[int, int]) -> None:
        """Adds one customer's or one chunk's tallies to a group: the one place that knows the
        latest acquisition day takes the later one and every other slot sums."""
        row = self.groups.setdefault(key, [0] * len(values))
        for slot, value in enumerate(values):
            row[slot] = max(row[slot], value) if slot == 1 else row[slot] + value
        group_months = self.monthly_margin.setdefault(key, {})
        for since, margin in months.items():
            group_months[since] = group_months.get(since, 0) + margin

    def merge(self, other: CacTallies) -> None:
        for key, values in other.groups.items():
            self._add_group(key, values, other.monthly_margin.get(key, {}))

    def rows(self, account: str, inputs: CostInputs, as_of: int) -> Iterator[dict[str, Any]]:
        """The cac_cohorts rows: every group with customers or spend."""
        spend = _spend_groups(inputs)
        for key in sorted(set(self.groups) | set(spend)):
            yield self._row(account, key, spend.get(key, 0), utc_day(as_of))

    def _row(self, account: str, key: GroupKey, spend: int, as_of_day: int) -> dict[str, Any]:
        customers, last_day, net, margin, *windows = self.groups.get(key, [0] * 10)
        with_cac = spend > 0 and customers > 0
        row: dict[str, Any] = {
            "account": account, "currency": key[0], "cohort_month": key[1],
            "channel": key[2], "campaign": key[3], "spend": major(spend),
            "new_customers": customers,
            "cac": rounded(spend, customers * 100, CENT) if with_cac else None,
            "net_revenue": major(net), "net_margin": major(margin),
            "ltv_to_date": rounded(net, customers * 100, CENT) if customers else None,
            "margin_ltv_to_date": rounded(margin, customers * 100, CENT) if customers else None,
        }  # fmt: skip
        for slot, n in enumerate(CAC_DAYS):
            complete = customers > 0 and last_day + n <= as_of_day
            for offset, name in ((0, "ltv"), (1, "margin_ltv")):
                value = windows[2 * slot + offset]
                row[f"{name}_{n}"] = rounded(value, customers * 100, CENT) if complete else None
        row["margin_ltv_to_cac"] = rounded(margin, spend, CENT) if with_cac else None
        row["payback_months"] = self._payback(key, spend) if with_cac else None
        return row

    def _payback(self, key: GroupKey, spend: int) -> int | None:
        months = self.monthly_margin.get(key, {})
        cumulative = 0
        for since in sorted(months):
            cumulative += months[since]
            if cumulative >= spend:
                return since
        return None


def _spend_groups(inputs: CostInputs) -> dict[GroupKey, int]:
    """Spend in cents per group, with the '*' totals; no campaign is '(none)'."""
    groups: dict[GroupKey, int] = {}
    for day in inputs.spend:
        month, campaign = day.day[:8] + "01", day.campaign.lower() or NO_CAMPAIGN
        for group in ((day.channel, campaign), (day.channel, EVERY), (EVERY, EVERY)):
            key = (day.currency, month, *group)
            groups[key] = groups.get(key, 0) + day.cents
    return groups

"""truth.json's repeat purchases and product paths, counted from each customer's payments.

The rules of docs/marts.md ("Repeat purchases"), worked out here without dbt: an order is a
purchase once one of its payments is above zero (its charge; after a 100% coupon, a rebill),
dated by the first such payment; the first purchase is the acquiring order; a purchase's
product is that payment's item, and a checkout lists its front-end product first. Days are
UTC day numbers; medians, rates and shares are exact decimals, rounded half up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from pipeline.demo.timeline import utc_date, utc_day

if TYPE_CHECKING:
    from pipeline.demo.truth import Payment

NO_NEXT = "(none)"  # the next product of a customer with one order
RATE, AVERAGE, MEDIAN = Decimal("0.0001"), Decimal("0.01"), Decimal("0.1")

PathKey = tuple[str, str, str]  # (currency, first product id, next product id)


def purchases(payments: list[Payment]) -> list[Payment]:
    """The customer's orders as purchases, in the order bought: per order its first payment
    above zero (the earliest; of equals the first listed), sorted by time, then listing."""
    first: dict[str, tuple[int, int, Payment]] = {}
    for index, payment in enumerate(payments):
        if payment.amount <= 0:
            continue
        known = first.get(payment.order_id)
        if known is None or (payment.paid_at, index) < known[:2]:
            first[payment.order_id] = (payment.paid_at, index, payment)
    return [payment for _, _, payment in sorted(first.values(), key=lambda entry: entry[:2])]


def rounded(numerator: int, denominator: int, unit: Decimal) -> str:
    """numerator / denominator to `unit` (0.0001, 0.01), half up, as a decimal string."""
    return str((Decimal(numerator) / denominator).quantize(unit, ROUND_HALF_UP))


def median(days: Counter[int | None]) -> str | None:
    """The median of a histogram of days (the mean of the middle two for an even count), one
    decimal; None (no second order) is not a value; None when there is none."""
    values = sorted(day for day in days.elements() if day is not None)
    if not values:
        return None
    middle = len(values) // 2
    low = values[middle] if len(values) % 2 else values[middle - 1]
    return str((Decimal(low + values[middle]) / 2).quantize(MEDIAN))


@dataclass
class RepeatPurchases:
    """Aggregates over customers, mergeable across chunks: counts and histograms of days."""

    # (currency, cohort month) -> [customers, orders]
    cohorts: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    # (currency, cohort month) -> days from the first order to the second -> customers
    second_order_days: dict[tuple[str, str], Counter[int | None]] = field(default_factory=dict)
    # (currency, orders bought) -> customers
    order_counts: Counter[tuple[str, int]] = field(default_factory=Counter)
    # (currency, first product, next product) -> days between (None: no second order) -> customers
    paths: dict[PathKey, Counter[int | None]] = field(default_factory=dict)
    # (currency, product id) -> (time, name) of its latest first or second order
    names: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)

    def add(self, currency: str, bought: list[Payment]) -> None:
        """One acquired customer's purchases (`purchases()`, the acquiring order first)."""
        first, second = bought[0], bought[1] if len(bought) > 1 else None
        cohort = (currency, utc_date(first.paid_at)[:8] + "01")
        row = self.cohorts.setdefault(cohort, [0, 0])
        row[0] += 1
        row[1] += len(bought)
        self.order_counts[(currency, len(bought))] += 1
        days = None if second is None else utc_day(second.paid_at) - utc_day(first.paid_at)
        if days is not None:
            self.second_order_days.setdefault(cohort, Counter())[days] += 1
        path = (currency, first.product_id, second.product_id if second else NO_NEXT)
        self.paths.setdefault(path, Counter())[days] += 1
        for payment in bought[:2]:
            self._name(currency, payment)

    def _name(self, currency: str, payment: Payment) -> None:
        named = (payment.paid_at, payment.offer.name_at(payment.paid_at))
        key = (currency, payment.product_id)
        self.names[key] = max(self.names.get(key, named), named)

    def merge(self, other: RepeatPurchases) -> None:
        """Add another chunk's customers."""
        for key, (customers, orders) in other.cohorts.items():
            row = self.cohorts.setdefault(key, [0, 0])
            row[0] += customers
            row[1] += orders
        for key, days in other.second_order_days.items():
            self.second_order_days.setdefault(key, Counter()).update(days)
        for key, path_days in other.paths.items():
            self.paths.setdefault(key, Counter()).update(path_days)
        self.order_counts.update(other.order_counts)
        for key, named in other.names.items():
            self.names[key] = max(self.names.get(key, named), named)

    def sections(self, account: str, currencies: list[str]) -> dict[str, list[dict[str, Any]]]:
        """truth.json's `repeat_purchase_cohorts`, `customers_by_order_count` and
        `product_paths`, currency by currency in `currencies`' order."""
        return {
            "repeat_purchase_cohorts": [
                row for c in currencies for row in self._cohort_rows(account, c)
            ],
            "customers_by_order_count": [
                {"account": account, "currency": c, "orders_count": n, "customers": customers}
                for c in currencies
                for (currency, n), customers in sorted(self.order_counts.items())
                if currency == c
            ],
            "product_paths": [row for c in currencies for row in self._path_rows(account, c)],
        }

    def _cohort_rows(self, account: str, currency: str) -> Iterator[dict[str, Any]]:
        for key, (customers, orders) in sorted(self.cohorts.items()):
            if key[0] != currency:
                continue
            days = self.second_order_days.get(key, Counter())
            repeat = days.total()
            yield {
                "account": account,
                "currency": currency,
                "cohort_month": key[1],
                "customers": customers,
                "repeat_customers": repeat,
                "repeat_rate": rounded(repeat, customers, RATE),
                "median_days_to_second_order": median(days),
                "orders": orders,
                "avg_orders_per_customer": rounded(orders, customers, AVERAGE),
            }

    def _path_rows(self, account: str, currency: str) -> Iterator[dict[str, Any]]:
        buyers = Counter[str]()
        for (c, first, _), days in self.paths.items():
            if c == currency:
                buyers[first] += days.total()
        for (c, first, next_product), days in sorted(self.paths.items()):
            if c != currency:
                continue
            next_name = self.names.get((currency, next_product), (0, None))[1]
            yield {
                "account": account,
                "currency": currency,
                "first_product_id": first,
                "first_product_name": self.names[(currency, first)][1],
                "next_product_id": next_product,
                "next_product_name": next_name,
                "customers": days.total(),
                "first_product_buyers": buyers[first],
                "share_of_first_product_buyers": rounded(days.total(), buyers[first], RATE),
                "median_days_between": median(days),
            }

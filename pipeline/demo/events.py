"""The generator's own record of what happened: orders, subscriptions and dated events.

The simulation writes these; the CSV writer, the webhook bodies and truth.json are all rendered
from them, so every output describes the same history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

from pipeline.demo.catalog import LIMITED, Offer, Plan
from pipeline.demo.people import Buyer


@dataclass(slots=True)
class Item:
    """One purchased item of a checkout and what its first payment collected."""

    offer: Offer
    plan: Plan
    original: int  # net cents before the coupon
    net: int
    tax: int
    charge_id: str  # processor charge id; "" when nothing was charged (total 0.00)
    subscription: Subscription | None = None

    @property
    def gross(self) -> int:
        return self.net + self.tax


@dataclass(slots=True)
class Order:
    """One checkout (one `order.success`): front-end product plus bump, upsell, downsell."""

    order_id: str
    invoice_id: str
    at: int
    buyer: Buyer
    currency: str
    processor: str
    coupon: str  # "" when none
    campaign_id: str  # "-" when none
    affiliate_id: str  # "" when none
    affiliate_name: str
    tax_percent: int
    live: bool
    items: list[Item] = field(default_factory=list)

    @property
    def front(self) -> Item:
        return self.items[0]

    @property
    def gross(self) -> int:
        return sum(item.gross for item in self.items)

    @property
    def tax(self) -> int:
        return sum(item.tax for item in self.items)


@dataclass(slots=True)
class Subscription:
    """A recurring or limited (split pay) plan started by an order item."""

    tc_id: str  # ThriveCart's numeric subscription id
    processor_id: str  # "sub_…", "I-…", or "" when the processor gives none
    order: Order
    item: Item
    net: int  # per payment, full price (coupons apply to the first payment only)
    tax: int
    cancelled_at: int | None = None
    completed_at: int | None = None

    @property
    def kind(self) -> str:
        return "limited" if self.item.plan.kind == LIMITED else "recurring"

    @property
    def gross(self) -> int:
        return self.net + self.tax

    def remaining_after(self, payment_index: int) -> str:
        """`remaining_rebills` after payment `payment_index` ("null" = unlimited)."""
        if self.kind != "limited":
            return "null"
        return str(self.item.plan.payments - 1 - payment_index)

    def status_at(self, t: int) -> str:
        """The Subscriptions export's `subscription_status` at moment `t`."""
        if self.cancelled_at is not None and self.cancelled_at <= t:
            return "cancelled"
        if self.completed_at is not None and self.completed_at <= t:
            return "completed"
        return "active"


@dataclass(slots=True)
class Delivery:
    """How ThriveCart sent one event's webhook: when, as JSON or form, and a duplicate resend."""

    sent_at_us: int  # microseconds since the epoch
    as_json: bool
    resent_at_us: int | None


@dataclass(slots=True, kw_only=True)
class Event:
    """Something that happened at `at`; `delivery` is None when no webhook arrived for it."""

    at: int
    delivery: Delivery | None = None


@dataclass(slots=True, kw_only=True)
class Checkout(Event):
    order: Order


@dataclass(slots=True, kw_only=True)
class Rebill(Event):
    """A successful subscription payment after the first (`recurring_payment_idx` >= 1)."""

    sub: Subscription
    index: int
    charge_id: str
    next_due: int | None


@dataclass(slots=True, kw_only=True)
class RebillFailed(Event):
    """One failed attempt at rebill `index`; retries repeat it with the same invoice."""

    sub: Subscription
    index: int
    next_due: int | None


@dataclass(slots=True, kw_only=True)
class Refund(Event):
    """A full or partial refund of one item's first payment or of one rebill."""

    order: Order
    item: Item
    rebill: Rebill | None
    net: int
    tax: int
    event_id: str

    @property
    def gross(self) -> int:
        return self.net + self.tax


@dataclass(slots=True, kw_only=True)
class Cancel(Event):
    sub: Subscription
    period_end: int  # when the paid period ends


@dataclass(slots=True)
class History:
    """Everything one simulated customer did, in time order, and the random generator that
    simulated it: what happens to the history afterwards (webhook fates) draws from it next."""

    index: int
    events: list[Event]
    rng: Random

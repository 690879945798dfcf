"""What the demo seller sells: products, bumps, upsells, downsells and their pricing options.

Modelled on a typical ThriveCart info-product business: a course with an order bump and an
upsell/downsell pair, a monthly membership (renamed part-way through the history), a yearly plan,
a programme sold in full or as a split payment, and a cheap tripwire whose upsell is a small
subscription. With a second currency, a euro catalogue sells to part of the audience.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate

from pipeline.demo.money import major

ONE_TIME, RECURRING, LIMITED = "one_time", "recurring", "limited"
FREQUENCY_DAYS = {"month": "30", "year": "365"}


@dataclass(frozen=True)
class Plan:
    """A pricing option: one payment, a payment every period until cancelled, or N payments."""

    plan_id: str
    name: str
    kind: str
    price: int  # net cents per payment, before any coupon
    frequency: str = ""  # "month" | "year" for recurring and limited plans
    payments: int = 1  # limited plans: the total number of payments, the first one included

    @property
    def months(self) -> int:
        """Calendar months between two payments of this plan."""
        return 12 if self.frequency == "year" else 1


@dataclass(frozen=True)
class Offer:
    """One sellable item as ThriveCart identifies it: (item_type, item_id).

    A bump's id is the id of the product it is attached to, so `product-101` and `bump-101`
    are different items with the same number, exactly as in real payloads.
    """

    item_type: str  # product | bump | upsell | downsell
    item_id: int
    names: tuple[tuple[int, str], ...]  # (valid from epoch second, plain name), oldest first
    currency: str
    plans: tuple[Plan, ...]
    label: str = ""

    # Derived text is cached on the instance: every row and payload asks for it again.
    @cached_property
    def key(self) -> str:
        """`product-101`: the key in `transactions{}`, `purchase_map[]` and friends."""
        return f"{self.item_type}-{self.item_id}"

    @cached_property
    def identifier(self) -> str:
        """`product_101`: the `item_identifier` of `order.charges[]`."""
        return f"{self.item_type}_{self.item_id}"

    @cached_property
    def id_text(self) -> str:
        """`"101"`: `item_id` as the exports and payloads write it."""
        return str(self.item_id)

    def name_at(self, t: int) -> str:
        """The item's plain name at moment `t` (names change over time)."""
        current = self.names[0][1]
        for since, name in self.names:
            if since <= t:
                current = name
        return current

    @cached_property
    def _escaped_names(self) -> dict[str, str]:
        return {name: html.escape(name, quote=False) for _, name in self.names}

    def escaped_name_at(self, t: int) -> str:
        """The name as the exports, `charges[]` and `purchases[]` write it (`&amp;`)."""
        return self._escaped_names[self.name_at(t)]

    @cached_property
    def slug(self) -> str:
        """URL path of the item's checkout, for `fulfillment[url]`."""
        words = "".join(c if c.isalnum() else " " for c in self.names[0][1].lower())
        return "-".join(words.split())


@dataclass(frozen=True)
class Funnel:
    """A checkout page: a front-end product, an optional bump, upsell and downsell-on-decline."""

    weight: float  # relative chance of being a customer's first checkout
    front: Offer
    plan_weights: tuple[float, ...]  # chance of each of the front offer's plans
    bump: Offer | None = None
    bump_rate: float = 0.0
    upsell: Offer | None = None
    upsell_rate: float = 0.0
    downsell: Offer | None = None
    downsell_rate: float = 0.0  # chance a customer who declined the upsell takes the downsell

    @cached_property
    def plan_cum_weights(self) -> list[float]:
        """`plan_weights` summed up, for `weighted_choice(rng, plans, …)`."""
        return list(accumulate(self.plan_weights))


def _one(plan_id: str, price: int, symbol: str) -> Plan:
    return Plan(plan_id, f"One payment ({symbol}{major(price)})", ONE_TIME, price)


def _every(plan_id: str, price: int, symbol: str, frequency: str) -> Plan:
    label = "Monthly" if frequency == "month" else "Yearly"
    name = f"{label} Subscription ({symbol}{major(price)}/{frequency})"
    return Plan(plan_id, name, RECURRING, price, frequency)


def _split(plan_id: str, price: int, symbol: str, payments: int) -> Plan:
    name = f"{payments} monthly payments of {symbol}{major(price)}"
    return Plan(plan_id, name, LIMITED, price, "month", payments)


def _usd_funnels(rename_at: int) -> tuple[Funnel, ...]:
    def offer(kind: str, item_id: int, name: str, *plans: Plan) -> Offer:
        return Offer(kind, item_id, ((0, name),), "USD", plans)

    membership = Offer(
        "product",
        105,
        ((0, "Inner Circle"), (rename_at, "Inner Circle Membership & Community")),
        "USD",
        (_every("31670", 3900, "$", "month"),),
        label="Members' area & live calls",
    )
    return (
        Funnel(
            0.30,
            offer("product", 101, "The Copywriting Course", _one("83301", 19700, "$")),
            (1.0,),
            bump=offer("bump", 101, "Headline Swipe File & Templates", _one("83302", 2700, "$")),
            bump_rate=0.32,
            upsell=offer("upsell", 103, "1:1 Strategy Call", _one("83303", 29700, "$")),
            upsell_rate=0.22,
            downsell=offer("downsell", 104, "Group Coaching Pass", _one("83304", 9700, "$")),
            downsell_rate=0.30,
        ),
        Funnel(0.20, membership, (1.0,)),
        Funnel(
            0.07,
            offer("product", 106, "Inner Circle Annual", _every("83322", 39000, "$", "year")),
            (1.0,),
        ),
        Funnel(
            0.13,
            offer(
                "product",
                107,
                "Business Accelerator",
                _one("83340", 89700, "$"),
                _split("83341", 33300, "$", 3),
                _split("83342", 16900, "$", 6),
            ),
            (0.4, 0.4, 0.2),
        ),
        Funnel(
            0.30,
            offer("product", 108, "Mini Workshop: Ads & Funnels", _one("83350", 1700, "$")),
            (1.0,),
            bump=offer("bump", 108, "Ad Copy Cheat Sheet", _one("83351", 900, "$")),
            bump_rate=0.40,
            upsell=offer("upsell", 109, "Templates Club", _every("83352", 1900, "$", "month")),
            upsell_rate=0.18,
            downsell=offer(
                "downsell", 110, "Templates Club Lite", _every("83353", 900, "$", "month")
            ),
            downsell_rate=0.25,
        ),
    )


def _eur_funnels() -> tuple[Funnel, ...]:
    def offer(kind: str, item_id: int, name: str, *plans: Plan) -> Offer:
        return Offer(kind, item_id, ((0, name),), "EUR", plans)

    return (
        Funnel(
            0.55,
            offer("product", 201, "Texter-Kurs", _one("93301", 17900, "€")),
            (1.0,),
            bump=offer("bump", 201, "Vorlagen & Checklisten", _one("93302", 2500, "€")),
            bump_rate=0.30,
        ),
        Funnel(
            0.25,
            offer("product", 205, "Inner Circle (EU)", _every("93305", 3500, "€", "month")),
            (1.0,),
        ),
        Funnel(
            0.20,
            offer(
                "product",
                207,
                "Business Accelerator (EU)",
                _one("93340", 79900, "€"),
                _split("93341", 29900, "€", 3),
            ),
            (0.5, 0.5),
        ),
    )


@dataclass(frozen=True)
class Catalog:
    """The funnels on sale, by currency. The first currency is the seller's main one."""

    funnels: dict[str, tuple[Funnel, ...]]

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(self.funnels)


def build_catalog(rename_at: int, second_currency: bool) -> Catalog:
    """The catalogue; the membership is renamed at `rename_at`."""
    funnels = {"USD": _usd_funnels(rename_at)}
    if second_currency:
        funnels["EUR"] = _eur_funnels()
    return Catalog(funnels)

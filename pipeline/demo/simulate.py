"""Simulates one customer at a time, with a random generator of its own.

Each customer gets `Random(f"{seed}:{index}")`, so customer 17 is the same whatever else is
generated, runs can be split into chunks processed anywhere, and memory stays flat. The rates
below shape an info-product seller; the resulting volume is documented in `pipeline.demo`.
"""

from __future__ import annotations

import dataclasses
from itertools import accumulate
from random import Random

from pipeline.demo.catalog import ONE_TIME, RECURRING, Funnel, Offer, Plan
from pipeline.demo.events import (
    Cancel,
    Checkout,
    Event,
    History,
    Item,
    Order,
    Rebill,
    RebillFailed,
    Refund,
    Subscription,
)
from pipeline.demo.money import percent_of
from pipeline.demo.people import (
    Person,
    charge_id,
    make_buyer,
    make_person,
    pick,
    processor_subscription_id,
    thrivecart_customer_id,
    uniform_int,
    weighted_choice,
)
from pipeline.demo.timeline import add_months
from pipeline.demo.world import World

HOUR, DAY = 3600, 86400
SECOND_CURRENCY_SHARE = 0.15  # of customers, when a second currency is on
CROSS_CURRENCY_RATE = 0.12  # second-currency customers who also buy in the main currency
REPEAT_RATES = (0.32, 0.25)  # chance of a 2nd order, then of each further one
MAX_ORDERS = 8
FREE_COUPON, SAVE_COUPON = "FREE100", "SAVE20"
COUPON_RATES = ((FREE_COUPON, 0.025), (SAVE_COUPON, 0.08))
CHURN = {"month": 0.07, "year": 0.35, "limited": 0.01}  # chance to cancel before each rebill
FAILURE_RATE = 0.07  # chance a rebill's first attempt fails
RETRY_DAYS = (0, 3, 5, 7)  # attempts of one rebill, in days after the first
RECOVERY_RATE = 0.6  # chance a failing rebill succeeds at the next retry
REFUND_RATES = {"product": 0.05, "bump": 0.03, "upsell": 0.05, "downsell": 0.05}
PARTIAL_REFUND_RATE = 0.02
FIRST_PAYMENT_REFUND_RATE = 0.04  # of subscriptions: refund the first payment and cancel
REBILL_REFUND_RATE = 0.02
TEST_ORDER_EVERY = 100  # one seller test-mode order per this many customers
# Id blocks per customer: ids are unique and stable without any shared counter.
ORDER_BASE, ORDER_STRIDE = 3_000_000, 16
SUBSCRIPTION_BASE, SUBSCRIPTION_STRIDE = 4_000_000, 16
EVENT_BASE, EVENT_STRIDE = 7_000_000_000, 64
TEST_ORDER_BASE = 900_000_000


class _Shopper:
    """Builds one person's orders and everything that follows from them."""

    def __init__(self, world: World, rng: Random, person: Person, live: bool = True) -> None:
        self.world, self.rng, self.person, self.live = world, rng, person, live
        self.end = world.timeline.end
        self.events: list[Event] = []
        self.first_email: str | None = None
        self.counts = {"order": 0, "subscription": 0, "event": 0}
        self.refunded_subscriptions: set[str] = set()

    def _next(self, kind: str, base: int, stride: int) -> int:
        number = self.counts[kind]
        if number >= stride:
            raise RuntimeError(f"customer {self.person.index}: more than {stride} {kind} ids")
        self.counts[kind] += 1
        return base + self.person.index * stride + number

    def settle(self, t: int) -> int:
        """`t` moved out of a repeated DST hour of the export clock."""
        return self.world.clock.settle(t)

    def between(self, low: int, high: int) -> int:
        """A settled moment drawn uniformly from [low, high]."""
        return self.settle(uniform_int(self.rng, low, max(low, high)))

    def checkout(self, at: int, funnel: Funnel, first: bool) -> Order:
        """A checkout of `funnel` at `at`, then its subscriptions' lives and its refunds."""
        order = self._new_order(at, funnel.front.currency, first)
        plan = weighted_choice(self.rng, funnel.front.plans, funnel.plan_cum_weights)
        self._add_item(order, funnel.front, plan, front=True)
        rng = self.rng
        if funnel.bump and rng.random() < funnel.bump_rate:
            self._add_item(order, funnel.bump, funnel.bump.plans[0])
        if order.coupon != FREE_COUPON and funnel.upsell:
            if rng.random() < funnel.upsell_rate:
                self._add_item(order, funnel.upsell, funnel.upsell.plans[0])
            elif funnel.downsell and rng.random() < funnel.downsell_rate:
                self._add_item(order, funnel.downsell, funnel.downsell.plans[0])
        self.events.append(Checkout(at=at, order=order))
        if self.live:
            for item in order.items:
                if item.subscription:
                    self._live_subscription(item.subscription)
                else:
                    self._maybe_refund_item(order, item)
        return order

    def _new_order(self, at: int, currency: str, first: bool) -> Order:
        rng, person = self.rng, self.person
        buyer = make_buyer(rng, person, self.first_email)
        self.first_email = self.first_email or buyer.email
        if self.live:
            number = self._next("order", ORDER_BASE, ORDER_STRIDE)
        else:
            number = TEST_ORDER_BASE + person.index
        affiliate = person.affiliate if first else None
        campaign = person.campaign_id if first else pick(rng, ("newsletter-email", "-"))
        coupon = next((code for code, rate in COUPON_RATES if rng.random() < rate), "")
        return Order(
            order_id=str(number),
            invoice_id=f"{number - ORDER_BASE + 1:09d}",
            at=at,
            buyer=buyer,
            currency=currency,
            processor=person.processor,
            coupon=coupon,
            campaign_id=campaign,
            affiliate_id=affiliate.affiliate_id if affiliate else "",
            affiliate_name=affiliate.name if affiliate else "",
            tax_percent=person.tax_percent,
            live=self.live,
        )

    def _add_item(self, order: Order, offer: Offer, plan: Plan, front: bool = False) -> None:
        net = plan.price
        if order.coupon == FREE_COUPON:
            net = 0
        elif order.coupon == SAVE_COUPON and front:
            net = plan.price * 80 // 100
        tax = percent_of(net, order.tax_percent)
        charge = charge_id(self.rng, order.processor) if net + tax else ""
        item = Item(offer, plan, plan.price, net, tax, charge)
        if plan.kind != ONE_TIME:
            tc_id = self._next("subscription", SUBSCRIPTION_BASE, SUBSCRIPTION_STRIDE)
            item.subscription = Subscription(
                tc_id=str(tc_id),
                processor_id=processor_subscription_id(self.rng, order.processor),
                order=order,
                item=item,
                net=plan.price,
                tax=percent_of(plan.price, order.tax_percent),
            )
        order.items.append(item)

    def _refund(
        self, at: int, order: Order, item: Item, net: int, tax: int, rebill: Rebill | None = None
    ) -> None:
        event_id = str(self._next("event", EVENT_BASE, EVENT_STRIDE))
        self.events.append(
            Refund(
                at=at, order=order, item=item, rebill=rebill, net=net, tax=tax, event_id=event_id
            )
        )

    def _maybe_refund_item(self, order: Order, item: Item) -> None:
        """Full refunds within 30 days, and a few partial ones."""
        if not item.gross:
            return
        roll = self.rng.random()
        full_rate = REFUND_RATES[item.offer.item_type]
        if roll >= full_rate + PARTIAL_REFUND_RATE:
            return
        at = self.between(order.at + HOUR, order.at + 30 * DAY)
        if at > self.end:
            return
        if roll < full_rate:
            self._refund(at, order, item, item.net, item.tax)
            return
        share = pick(self.rng, (25, 50, 50, 70))
        gross, tax = item.gross * share // 100, item.tax * share // 100
        self._refund(at, order, item, gross - tax, tax)

    def _cancel(self, sub: Subscription, at: int, period_end: int) -> None:
        if at <= self.end:
            sub.cancelled_at = at
            self.events.append(Cancel(at=at, sub=sub, period_end=period_end))

    def _scheduled(self, sub: Subscription, index: int) -> int:
        return add_months(sub.order.at, index * sub.item.plan.months)

    def _live_subscription(self, sub: Subscription) -> None:
        """Rebill on schedule until the customer cancels, payment fails for good, or it ends."""
        if self._refund_first_payment(sub):
            return
        plan, paid_at, index = sub.item.plan, sub.order.at, 1
        churn = CHURN["limited" if sub.kind == "limited" else plan.frequency]
        while plan.kind == RECURRING or index < plan.payments:
            due = self._scheduled(sub, index)
            if self.rng.random() < churn:
                self._cancel(sub, self.between(paid_at + HOUR, due - HOUR), due)
                return
            rebill = self._collect(sub, index, due)
            if rebill is None or self._maybe_refund_rebill(rebill):
                return
            paid_at, index = rebill.at, index + 1
        sub.completed_at = paid_at

    def _refund_first_payment(self, sub: Subscription) -> bool:
        item, order = sub.item, sub.order
        if not item.gross or self.rng.random() >= FIRST_PAYMENT_REFUND_RATE:
            return False
        at = self.between(order.at + 2 * HOUR, order.at + 10 * DAY)
        if at > self.end:
            return False
        self._refund(at, order, item, item.net, item.tax)
        self.refunded_subscriptions.add(sub.tc_id)
        self._cancel(sub, self.between(at + 60, at + 1800), self._scheduled(sub, 1))
        return True

    def _collect(self, sub: Subscription, index: int, due: int) -> Rebill | None:
        """Charge rebill `index`; failed attempts repeat with the same invoice, then recover
        or end in a dunning cancellation. None when nothing more happens before the end."""
        rng = self.rng
        first_try = self.settle(due + uniform_int(rng, 1200, 5400))
        if rng.random() >= FAILURE_RATE:
            return self._rebill(sub, index, first_try)
        failures = pick(rng, (1, 1, 2, 2, 3, 4))
        attempts = [self.settle(first_try + days * DAY) for days in RETRY_DAYS]
        for number in range(failures):
            if attempts[number] > self.end:
                return None
            next_try = attempts[number + 1] if number + 1 < len(attempts) else None
            self.events.append(
                RebillFailed(at=attempts[number], sub=sub, index=index, next_due=next_try)
            )
        if failures < len(attempts) and rng.random() < RECOVERY_RATE:
            return self._rebill(sub, index, attempts[failures])
        self._cancel(sub, self.settle(attempts[failures - 1] + DAY), due)
        return None

    def _rebill(self, sub: Subscription, index: int, at: int) -> Rebill | None:
        if at > self.end:
            return None
        last = sub.kind == "limited" and index == sub.item.plan.payments - 1
        rebill = Rebill(
            at=at,
            sub=sub,
            index=index,
            charge_id=charge_id(self.rng, sub.order.processor),
            next_due=None if last else self._scheduled(sub, index + 1),
        )
        self.events.append(rebill)
        return rebill

    def _maybe_refund_rebill(self, rebill: Rebill) -> bool:
        """Refund at most one rebill per subscription; True when the subscription ends here."""
        sub = rebill.sub
        if sub.tc_id in self.refunded_subscriptions or self.rng.random() >= REBILL_REFUND_RATE:
            return False
        at = self.between(rebill.at + HOUR, rebill.at + 4 * DAY)
        if at > self.end:
            return False
        self._refund(at, sub.order, sub.item, sub.net, sub.tax, rebill)
        self.refunded_subscriptions.add(sub.tc_id)
        if self.rng.random() < 0.7:
            self._cancel(
                sub, self.between(at + 60, at + 1800), self._scheduled(sub, rebill.index + 1)
            )
            return True
        return False


def _acquisition_time(rng: Random, world: World) -> int:
    """Spread over the history with a growing business: later months acquire more."""
    timeline = world.timeline
    span = timeline.end - 2 * HOUR - timeline.start
    return world.clock.settle(timeline.start + int(span * rng.random() ** (1 / 1.5)))


def _pick_funnel(rng: Random, funnels: tuple[Funnel, ...], bought: set[str]) -> Funnel:
    """A funnel weighted by popularity, preferring one whose front product is new to them."""
    fresh = [f for f in funnels if f.front.key not in bought] or list(funnels)
    return weighted_choice(rng, fresh, list(accumulate(f.weight for f in fresh)))


def simulate_customer(world: World, index: int) -> History:
    """Customer `index`'s whole history, events in time order."""
    rng = Random(f"{world.plan.seed}:{index}")
    currencies = world.catalog.currencies
    second = len(currencies) > 1 and rng.random() < SECOND_CURRENCY_SHARE
    person = make_person(rng, index, currencies[1] if second else currencies[0])
    shopper = _Shopper(world, rng, person)
    funnels = world.catalog.funnels[person.currency]
    at = _acquisition_time(rng, world)
    order = shopper.checkout(at, _pick_funnel(rng, funnels, set()), first=True)
    bought = {order.front.offer.key}
    for rate in (REPEAT_RATES[0], *[REPEAT_RATES[1]] * (MAX_ORDERS - 2)):
        at = shopper.settle(at + HOUR + int(rng.expovariate(1 / (75 * DAY))))
        if rng.random() >= rate or at > world.timeline.end:
            break
        order = shopper.checkout(at, _pick_funnel(rng, funnels, bought), first=False)
        bought.add(order.front.offer.key)
    if second and rng.random() < CROSS_CURRENCY_RATE:
        at = shopper.between(order.at + DAY, order.at + 200 * DAY)
        if at <= world.timeline.end:
            shopper.checkout(
                at, _pick_funnel(rng, world.catalog.funnels[currencies[0]], set()), False
            )
    shopper.events.sort(key=lambda event: event.at)
    return History(index, shopper.events, rng)


def simulate_test_order(world: World, index: int) -> History:
    """A test-mode checkout by the seller (webhook only, never revenue), after webhook setup.

    The first one follows the setup within minutes: sellers test the URL they just saved.
    """
    rng = Random(f"{world.plan.seed}:test:{index}")
    timeline = world.timeline
    seller = make_person(rng, index, world.catalog.currencies[0])
    seller_id = thrivecart_customer_id(-1, 0)
    seller = dataclasses.replace(
        seller,
        email=f"owner+test{index}@example.com",
        affiliate=None,
        campaign_id="-",
        customer_ids=(seller_id, seller_id),
    )
    shopper = _Shopper(world, rng, seller, live=False)
    low = timeline.webhook_setup_at + 300
    at = low if index == 0 else shopper.between(low, timeline.end - HOUR)
    shopper.checkout(at, _pick_funnel(rng, world.catalog.funnels[seller.currency], set()), True)
    return History(index, shopper.events, rng)

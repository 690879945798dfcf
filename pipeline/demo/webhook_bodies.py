"""The webhook payloads ThriveCart would send for the history, and their exact HTTP bodies.

Payloads mirror the structure of the real samples in tests/fixtures/webhooks/: every scalar a
string, cents as integer strings, `"null"` for a missing value, UTC timestamps with `_iso8601`
and `_unix` twins, and HTML-escaped names in `order.charges[]` and `purchases[]` only. A payload
never holds an empty list or dict, because a form body cannot carry one: the same event then
decodes to the same payload from either encoding.

A payload is built as a list of `Part`s, runs of its top-level fields. Parts that several
deliveries share (an event's head, the customer and order blocks of an order's later events) are
built and encoded once per order or per run instead of once per delivery.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pipeline.demo.catalog import FREQUENCY_DAYS, LIMITED, Plan
from pipeline.demo.events import (
    Cancel,
    Checkout,
    Event,
    Item,
    Order,
    Rebill,
    RebillFailed,
    Refund,
    Subscription,
)
from pipeline.demo.money import major
from pipeline.demo.timeline import add_months, utc_parts
from pipeline.demo.traffic import passthrough_for
from pipeline.demo.world import World
from pipeline.phpform import SharedGroup, encode_php_form, remember_quoted

FORM, JSON = "application/x-www-form-urlencoded", "application/json"
Payload = dict[str, Any]


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))  # json.dumps would build one per call


def php_json(payload: Payload) -> str:
    """`payload` as PHP's json_encode writes it (`\\/`, `\\uXXXX`), compact."""
    return _COMPACT_JSON.encode(payload).replace("/", "\\/")


class Part:
    """A run of a payload's top-level fields and their two encodings, each made at most once.

    Both encodings work field by field: the parts' form encodings joined by `&`, and their JSON
    members joined by `,` in braces, are the encodings of the whole payload (no top-level key
    is in two parts)."""

    __slots__ = ("_form", "_json", "fields")

    def __init__(self, fields: Payload, form: str | None = None) -> None:
        """`form`: the fields' encoding, when the caller writes it out more cheaply than the
        encoder finds it (fields made new for every delivery, see `_date_part`)."""
        self.fields = fields
        self._form = form
        self._json: str | None = None

    @property
    def form(self) -> str:
        if self._form is None:
            self._form = encode_php_form(self.fields)
        return self._form

    @property
    def json_members(self) -> str:
        """`"key":value,…`: the fields as members of the JSON body's object."""
        if self._json is None:
            self._json = php_json(self.fields)[1:-1]
        return self._json


def _cents(prefix: str, cents: int) -> Payload:
    """`{amount: "1499", amount_str: "14.99"}`: a price and its decimal twin."""
    return {prefix: str(cents), f"{prefix}_str": major(cents)}


def _quoted_times(t: int) -> tuple[str, str, str, str]:
    """ThriveCart's webhook timestamp `YYYY-MM-DD HH:MM:SS` (UTC), its `_iso8601` twin, and
    both as a form quotes them: the clock's `:` is all they hold to escape besides the ` ` and
    `+` written here (the day needs none)."""
    day, clock = utc_parts(t)
    quoted = clock.replace(":", "%3A")
    text, iso = f"{day} {clock}", f"{day}T{clock}+00:00"
    return text, iso, f"{day}+{quoted}", f"{day}T{quoted}%2B00%3A00"


def _utc_times(t: int) -> tuple[str, str]:
    """The timestamp and its `_iso8601` twin, their quoted forms handed to the form encoder:
    nearly every one is distinct, and the encoder's scan of each costs several times more."""
    text, iso, quoted_text, quoted_iso = _quoted_times(t)
    remember_quoted(text, quoted_text)
    remember_quoted(iso, quoted_iso)
    return text, iso


def _utc_text(t: int) -> str:
    """The timestamp alone (scheduled payments, period ends), its quoted form handed over."""
    text, _, quoted_text, _ = _quoted_times(t)
    remember_quoted(text, quoted_text)
    return text


def _dated(prefix: str, t: int) -> Payload:
    text, iso = _utc_times(t)
    return {prefix: text, f"{prefix}_iso8601": iso, f"{prefix}_unix": str(t)}


def _date_part(t: int) -> Part:
    """An event's own top-level `date` fields, their form written out (new in every delivery)."""
    text, iso, quoted_text, quoted_iso = _quoted_times(t)
    fields = {"date": text, "date_iso8601": iso, "date_unix": str(t)}
    return Part(fields, f"date={quoted_text}&date_iso8601={quoted_iso}&date_unix={t}")


def _plain_part(fields: Payload) -> Part:
    """Top-level fields of ids and digits, names of letters and `_`: nothing to escape, so the
    form is the fields joined as they are."""
    return Part(fields, "&".join(map("=".join, fields.items())))


def _head(world: World, event: str, order: Order) -> Payload:
    front = order.front.offer
    return {
        "event": event,
        "mode": "live" if order.live else "test",
        "mode_int": "2" if order.live else "1",
        "thrivecart_account": world.plan.account,
        "thrivecart_secret": world.plan.secret,
        "base_product": str(front.item_id),
        "base_product_name": front.name_at(order.at),
        "base_product_label": front.label,
        "base_product_owner": world.owner_id,
    }


def _customer(order: Order, with_agent: bool) -> Payload:
    buyer, person = order.buyer, order.buyer.person
    address: Payload = {"country": person.country}
    if person.zip:
        address["line1"] = buyer.address_line1
        address["city"] = buyer.city
        address["state"] = person.state or "null"
        address["zip"] = person.zip
    customer: Payload = {"id": buyer.customer_id}
    if with_agent:
        customer["client_user_agent"] = person.user_agent
    customer |= {
        "name": buyer.full_name,
        "email": buyer.email,
        "business_name": buyer.company or "null",
        "contactno": person.phone or "null",
        "ip_address": person.ip_address,
        "address": address,
        "first_name": buyer.first_name,
        "last_name": buyer.last_name,
        "checkbox_confirmation": "false",
    }
    return customer


def _affiliate(order: Order) -> str | Payload:
    if not order.affiliate_id:
        return "null"
    return {"id": order.affiliate_id, "name": order.affiliate_name}


def _order_block(
    order: Order, total: int, tax: int, charges: list[SharedGroup] | None = None
) -> Payload:
    """The `order` block; `charges` (one per item) for `order.success` only."""
    # Literal dicts, here and in the other blocks every delivery builds: several times faster
    # than assembling them with update() calls.
    total_cents, total_major = str(total), major(total)
    block: Payload = {
        "id": order.order_id,
        "invoice_id": order.invoice_id,
        "processor": order.processor,
        "total": total_cents,
        "total_str": total_major,
        "total_gross": total_cents,
        "total_gross_str": total_major,
        **_dated("date", order.at),
        "tracking_id": "null",
        "tax": str(tax) if tax else "null",
        "tax_type": "vat" if tax else "null",
        "payment_method": "paypal" if order.processor.startswith("paypal") else "card",
    }
    if charges is not None:
        block["charges"] = charges
        future = [f for item in order.items for f in _future_charges(item, order)]
        if future:
            block["future_charges"] = future
    return block


def _line(item: Item, order: Order, net: int) -> Payload:
    offer = item.offer
    return {
        "name": offer.escaped_name_at(order.at),
        "label": offer.label,
        "reference": offer.id_text,
        "item_type": offer.item_type,
        "item_identifier": offer.identifier,
        "amount": str(net),
        "amount_str": major(net),
        "original_amount": str(item.original),
        "original_amount_str": major(item.original),
    }


def _money_tail(net: int, tax: int) -> Payload:
    return {
        "amount_gross": str(net + tax),
        "amount_gross_str": major(net + tax),
        "tax_paid": str(tax),
        "tax_paid_str": major(tax),
    }


def _charge(item: Item, order: Order) -> SharedGroup:
    """An item's line in `order.charges[]`: the same for every order of that catalogue item,
    price, coupon and tax rate, so it is built and encoded once (`WebhookBodies._charge`)."""
    return SharedGroup(
        _line(item, order, item.net)
        | {
            "type": "single",
            "quantity": "1",
            "unit_price": str(item.net),
            "unit_price_str": major(item.net),
            "defer": "false",
            **_money_tail(item.net, item.tax),
            "related_to_recur": "true" if item.subscription else "false",
            "payment_plan_id": item.plan.plan_id,
            "payment_plan_name": item.plan.name,
        }
    )


def _future_charges(item: Item, order: Order) -> list[Payload]:
    """Scheduled payments: the next one of a subscription, every remaining one of split pay."""
    sub = item.subscription
    if sub is None:
        return []
    plan = item.plan
    count = plan.payments - 1 if plan.kind == LIMITED else 1
    frequency = {"frequency": plan.frequency, "frequency_days": FREQUENCY_DAYS[plan.frequency]}
    head = _line(item, order, sub.net) | frequency | {"type": "recurring", "defer": "true"}
    head |= _money_tail(sub.net, sub.tax)
    plan_fields = {"payment_plan_id": plan.plan_id, "payment_plan_name": plan.name}
    charges = []
    for number in range(1, count + 1):
        due = add_months(order.at, number * plan.months) - 1
        charges.append(head | {"due": _utc_text(due), "defer_date": str(due)} | plan_fields)
    return charges


def _by_key(order: Order, value: Callable[[Item], str | None]) -> Payload:
    """`{"product-101": …, "bump-101": …}` over the items for which `value` is not None."""
    keyed = {item.offer.key: value(item) for item in order.items}
    return {key: v for key, v in keyed.items() if v is not None}


def _success_fields(world: World, order: Order, charges: list[SharedGroup]) -> Payload:
    """`order.success` after its head, up to its purchases: one per checkout, all its items in
    `order.charges[]`."""
    payload: Payload = {"order_id": order.order_id, "invoice_id": order.invoice_id}
    subs = _by_key(order, lambda i: i.subscription.tc_id if i.subscription else None)
    if subs:
        payload["subscription_ids"] = subs
    payload.update(order_date=_utc_text(order.at), order_timestamp=str(order.at))
    payload.update(currency=order.currency, customer_id=order.buyer.customer_id)
    payload.update(customer_identifier="null", customer=_customer(order, with_agent=True))
    payload["affiliate"] = _affiliate(order)
    payload["order"] = _order_block(order, order.gross, order.tax, charges)
    payload["transactions"] = _by_key(order, lambda i: i.charge_id or "false")
    processor_subs = _by_key(
        order, lambda i: (i.subscription.processor_id or "null") if i.subscription else None
    )
    if processor_subs:
        payload["subscriptions"] = processor_subs
    return payload


def _purchases(order: Order) -> Payload:
    """What an `order.success` gave access to: the same for every order of the same items."""
    names = [item.offer.escaped_name_at(order.at) for item in order.items]
    keys = [item.offer.key for item in order.items]
    payload: Payload = {"purchases": names, "purchase_map": keys}
    payload.update(purchase_map_flat=",".join(keys), accessible_purchases=names)
    payload.update(accessible_purchase_map=keys, accessible_purchase_map_flat=",".join(keys))
    return payload


def _fulfillment(world: World, order: Order) -> Payload:
    slug, invoice = order.front.offer.slug, order.invoice_id
    return {
        "fulfillment": {
            "url": f"https://{world.plan.account}.thrivecart.com/{slug}/confirm/{invoice}/"
        }
    }


def _subscription_block(sub: Subscription, at: int) -> Payload:
    """The fields of the `subscription` block that stay the same from event to event."""
    item, order = sub.item, sub.order
    offer = item.offer
    frequency = item.plan.frequency
    return {
        "type": offer.item_type,
        "id": offer.id_text,
        "product_id": offer.id_text,
        "name": offer.name_at(at),
        "label": offer.label,
        "processor": order.processor,
        "currency": order.currency,
        "invoice_id": order.invoice_id,
        **_cents("amount", sub.net),
        **_money_tail(sub.net, sub.tax),
        "frequency": frequency,
        "frequency_days": FREQUENCY_DAYS[frequency],
    }


def _customer_fields(order: Order, plan: Plan | None) -> Payload:
    """Who bought: the same in every event after the checkout (`plan` for subscription ones)."""
    fields: Payload = {"base_payment_plan": plan.plan_id} if plan else {}
    fields.update(currency=order.currency, customer_id=order.buyer.customer_id)
    fields.update(customer=_customer(order, False), affiliate=_affiliate(order))
    return fields


def _payment_block(event: Rebill | RebillFailed, invoice_id: str) -> Payload:
    """The `subscription` block of a payment after its unchanging fields."""
    index_text, due = str(event.index), event.next_due
    return {
        "remaining_rebills": event.sub.remaining_after(event.index),
        "invoice_str": invoice_id,
        "recurring_payment_idx": index_text,
        "next_payment_date": str(due) if due else "null",
        "next_payment_date_iso8601": _utc_times(due)[1] if due else "null",
    }


def _cancelled_block(event: Cancel) -> Payload:
    """The `subscription` block of a cancellation after its unchanging fields."""
    remaining = event.sub.remaining_after(0)
    return {"remaining_rebills": remaining, "billing_period_end": _utc_text(event.period_end)}


def _refund_fields(event: Refund) -> Payload:
    """`order.refund` after its order block."""
    order, item = event.order, event.item
    invoice = f"{order.invoice_id}-{event.rebill.index}" if event.rebill else order.invoice_id
    payload: Payload = {"order_id": order.order_id, "invoice_id": invoice}
    payload["subscription_id"] = item.subscription.tc_id if item.subscription else "null"
    payload.update({"event_id": event.event_id, "pro-rata": "false"})
    offer = item.offer
    refund: Payload = {"type": offer.item_type, "id": str(offer.item_id)}
    refund.update(product_id=str(offer.item_id), name=offer.name_at(event.at), label=offer.label)
    refund.update(processor=order.processor, currency=order.currency)
    refund.update(_cents("amount", event.net))
    refund.update(_money_tail(event.net, event.tax))
    payload["refund"] = refund
    return payload


class WebhookBodies:
    """The webhook bodies of one customer's events at a time.

    Parts that repeat are cached: event heads, charge lines and purchase lists for the whole
    run (keyed by catalogue objects' identity: the catalogue lives as long as the world); the
    customer and order blocks of each order and the unchanging start of each subscription block
    until the next customer (keyed by the order's or subscription's identity, which Python may
    reuse for a later customer's).
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self._heads: dict[tuple[str, bool, int, str], Part] = {}
        self._charges: dict[tuple[int, int, str, int, int, int, bool], SharedGroup] = {}
        self._items: dict[tuple[tuple[int, str], ...], Part] = {}
        self._owned: dict[tuple[str, int, str], Part] = {}

    def start_customer(self) -> None:
        """Forget the previous customer's parts (memory stays flat)."""
        self._owned.clear()

    def body(self, event: Event, as_json: bool) -> tuple[str, str]:
        """`(content_type, body)` of the webhook ThriveCart sends for `event`."""
        parts = self.parts(event)
        if as_json:
            return JSON, "{" + ",".join([part.json_members for part in parts]) + "}"
        return FORM, "&".join([part.form for part in parts])

    def parts(self, event: Event) -> list[Part]:
        """The payload of the webhook for `event`, in parts."""
        if isinstance(event, Checkout):
            order = event.order
            charges = [self._charge(item, order) for item in order.items]
            parts = [
                self._head("order.success", order),
                Part(_success_fields(self.world, order, charges)),
                self._purchases(order),
                Part(_fulfillment(self.world, order)),
            ]
            passthrough = passthrough_for(order.order_id)
            if passthrough:
                parts.append(Part({"passthrough": passthrough}))
            return parts
        if isinstance(event, Rebill):
            return self._payment(event, "order.subscription_payment")
        if isinstance(event, RebillFailed):
            return self._payment(event, "order.rebill_failed")
        if isinstance(event, Refund):
            order = event.order
            return [
                self._head("order.refund", order),
                self._customer(order, None),
                _date_part(event.at),
                self._order(order, order.gross, order.tax),
                Part(_refund_fields(event)),
            ]
        if isinstance(event, Cancel):
            name, block = "order.subscription_cancelled", _cancelled_block(event)
            return self._subscription_event(name, event.sub, event.at, 0, {}, block)
        raise TypeError(f"no webhook for {type(event).__name__}")

    def _payment(self, event: Rebill | RebillFailed, name: str) -> list[Part]:
        invoice_id = f"{event.sub.order.invoice_id}-{event.index}"
        fields = {"recurring_payment_idx": str(event.index)}
        block = _payment_block(event, invoice_id)
        return self._subscription_event(name, event.sub, event.at, event.index, fields, block)

    def _subscription_event(
        self, name: str, sub: Subscription, at: int, index: int, fields: Payload, block: Payload
    ) -> list[Part]:
        """The shared shape of `order.subscription_payment`, `.rebill_failed` and `.cancelled`:
        `fields` come after the ids, `block` ends the `subscription` block."""
        order = sub.order
        ids: Payload = {
            "order_id": order.order_id,
            "invoice_id": f"{order.invoice_id}-{index}" if index else order.invoice_id,
            "subscription_id": sub.tc_id,
        }
        return [
            self._head(name, order),
            self._customer(order, sub.item.plan),
            _date_part(at),
            self._order(order, sub.gross, sub.tax),
            _plain_part(ids | fields),
            self._subscription(sub, at, block),
        ]

    def _head(self, name: str, order: Order) -> Part:
        front = order.front.offer
        key = (name, order.live, id(front), front.name_at(order.at))
        part = self._heads.get(key)
        if part is None:
            part = self._heads[key] = Part(_head(self.world, name, order))
        return part

    def _charge(self, item: Item, order: Order) -> SharedGroup:
        offer, plan = item.offer, item.plan
        name, has_sub = offer.escaped_name_at(order.at), item.subscription is not None
        key = (id(offer), id(plan), name, item.original, item.net, item.tax, has_sub)
        charge = self._charges.get(key)
        if charge is None:
            charge = self._charges[key] = _charge(item, order)
        return charge

    def _purchases(self, order: Order) -> Part:
        key = tuple((id(item.offer), item.offer.escaped_name_at(order.at)) for item in order.items)
        part = self._items.get(key)
        if part is None:
            part = self._items[key] = Part(_purchases(order))
        return part

    def _customer(self, order: Order, plan: Plan | None) -> Part:
        key = ("customer", id(order), plan.plan_id if plan else "")
        part = self._owned.get(key)
        if part is None:
            part = self._owned[key] = Part(_customer_fields(order, plan))
        return part

    def _subscription(self, sub: Subscription, at: int, block: Payload) -> Part:
        """The `subscription` block: its unchanging fields (cached, with their encodings),
        then `block`, the event's own."""
        name = sub.item.offer.name_at(at)
        key = ("subscription", id(sub), name)
        start = self._owned.get(key)
        if start is None:
            start = self._owned[key] = Part({"subscription": _subscription_block(sub, at)})
        rest = Part({"subscription": block})
        form = f"{start.form}&{rest.form}"
        return Part({"subscription": start.fields["subscription"] | block}, form)

    def _order(self, order: Order, total: int, tax: int) -> Part:
        key = ("order", id(order), f"{total}/{tax}")
        part = self._owned.get(key)
        if part is None:
            block = _order_block(order, total, tax)
            part = self._owned[key] = Part({"order": block})
        return part

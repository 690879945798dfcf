"""Renders the history as ThriveCart's CSV exports, byte for byte in PHP `fputcsv` style.

Formats follow docs/sources.md and docs/interfaces.md: the Transactions header is the best
known guess, the Subscriptions header the confirmed one (with its duplicate `subscription_id`),
`-` for a missing value, a NUL byte after every zip, HTML-escaped item names, local dates and
times on the account's clock, and refund rows dated by the original order.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from pipeline.demo.events import Cancel, Checkout, Event, Item, Order, Rebill, Refund, Subscription
from pipeline.demo.money import major
from pipeline.demo.world import World

TRANSACTIONS_HEADER = (
    "company,first_name,last_name,full_name,address_line1,address_city,address_state,address_zip,"
    "address_country,shipping_full_name,shipping_address_line1,shipping_address_city,"
    "shipping_address_state,shipping_address_zip,shipping_address_country,telephone,email,"
    "checkbox_confirmation,company_vat_number,order_id,order_date,order_time,processor,"
    "order_currency,coupon,campaign_id,affiliate_id,affiliate_name,relevant_item_name,"
    "relevant_item,relevant_item_id,relevant_item_pricing_option,event,transaction_id,"
    "subscription_id,product_price,sales_tax,sales_tax_rate,total,business_info,email_verify"
)
SUBSCRIPTIONS_HEADER = (
    "company,first_name,last_name,full_name,address_line1,address_city,address_state,address_zip,"
    "address_country,shipping_full_name,shipping_address_line1,shipping_address_city,"
    "shipping_address_state,shipping_address_zip,shipping_address_country,telephone,email,"
    "checkbox_confirmation,company_vat_number,subscription_id,order_date,order_time,processor,"
    "order_currency,coupon,campaign_id,affiliate_id,affiliate_name,relevant_item_name,"
    "relevant_item,relevant_item_id,relevant_item_pricing_option,subscription_id,frequency,amount,"
    "subscription_status,business_info,email_verify"
)
_NEEDS_QUOTES = re.compile(r'[ ,"\t\r\n]')


def php_csv_field(value: str) -> str:
    """One field as PHP's fputcsv writes it: quoted only when it holds a space, comma, quote,
    tab, CR or LF, with quotes doubled. (The generator never writes a backslash, the one other
    character PHP quotes for.)"""
    if _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


@functools.lru_cache(maxsize=8192)
def _export_field(value: str) -> str:
    """A field as the exports write it, `-` when empty. Cached: names, places, prices and
    plans repeat on every row, and a hit through `map` runs no Python code at all."""
    return php_csv_field(value) if value else "-"


def php_csv_line(values: Iterable[str]) -> str:
    """A row, LF-terminated; empty values become `-` as in ThriveCart's exports."""
    return ",".join(map(_export_field, values)) + "\n"


def _customer_block(order: Order) -> list[str]:
    """The 19 leading columns both exports share."""
    buyer, person = order.buyer, order.buyer.person
    zip_code = (person.zip or "-") + "\0"
    shipping = buyer.shipping
    return [
        buyer.company,
        buyer.first_name,
        buyer.last_name,
        buyer.full_name,
        buyer.address_line1,
        buyer.city,
        person.state,
        zip_code,
        person.country,
        buyer.full_name if shipping else "",
        buyer.address_line1 if shipping else "",
        buyer.city if shipping else "",
        person.state if shipping else "",
        zip_code if shipping else "-\0",
        person.country if shipping else "",
        person.phone,
        buyer.email,
        "false",
        person.vat_number,
    ]


def _order_block(order: Order) -> list[str]:
    """processor .. affiliate_name: the order columns both exports share, in header order."""
    return [
        order.processor,
        order.currency,
        order.coupon,
        order.campaign_id,
        order.affiliate_id,
        order.affiliate_name,
    ]


@functools.lru_cache(maxsize=256)
def _item_fragment(escaped_name: str, item_type: str, item_id: str, plan_name: str) -> str:
    """relevant_item_name .. relevant_item_pricing_option, rendered: the catalogue has a few
    dozen (offer, plan, name) combinations, so every row after the first is a cache hit."""
    return ",".join(
        map(_export_field, (escaped_name, item_type, item_id, plan_name.replace("&", "&amp;")))
    )


def _item_text(item: Item, at: int) -> str:
    offer = item.offer
    return _item_fragment(offer.escaped_name_at(at), offer.item_type, offer.id_text, item.plan.name)


class _OrderText:
    """The rendered columns of one order that are the same on each of its rows."""

    __slots__ = ("head", "order")

    def __init__(self, order: Order) -> None:
        self.head = php_csv_line(_customer_block(order))[:-1]  # company .. company_vat_number
        self.order = php_csv_line(_order_block(order))[:-1]  # processor .. affiliate_name


class ExportRows:
    """Rows of the Transactions export (one per item per event) and of the Subscriptions
    export (one per subscription), for one customer at a time.

    A row is joined from fragments rendered once per order and once per catalogue item; only
    the order id, date, time and the transaction columns are rendered per row.
    """

    def __init__(self, world: World) -> None:
        self.clock = world.clock
        self._orders: dict[int, _OrderText] = {}

    def start_customer(self) -> None:
        """Forget the previous customer's rendered orders (memory stays flat)."""
        self._orders.clear()

    def _order_text(self, order: Order) -> _OrderText:
        text = self._orders.get(id(order))
        if text is None:
            text = self._orders[id(order)] = _OrderText(order)
        return text

    def _row(self, order: Order, dated: int, item: Item, at: int, tail: str) -> str:
        text = self._order_text(order)
        day, time = self.clock.date_time(dated)
        return (
            f"{text.head},{_export_field(order.order_id)},{day},{time},{text.order},"
            f"{_item_text(item, at)},{tail}"
        )

    def rows(self, event: Event, refund_sign: int) -> list[str]:
        """The rows `event` adds to an export whose refunds have sign `refund_sign` (+1/-1)."""
        if isinstance(event, Checkout):
            order = event.order
            return [
                self._row(order, order.at, item, order.at, _charged(item, order))
                for item in order.items
            ]
        if isinstance(event, Rebill):
            sub = event.sub
            tail = _paid("rebill", event.charge_id, sub, sub.net, sub.tax, sub.order)
            return [self._row(sub.order, event.at, sub.item, event.at, tail)]
        if isinstance(event, Refund):
            tail = _refunded(event, refund_sign)
            return [self._row(event.order, event.order.at, event.item, event.at, tail)]
        if isinstance(event, Cancel):
            sub = event.sub
            tail = f"cancel,-,{sub.tc_id},-,-,-,-,-,-\n"
            return [self._row(sub.order, event.at, sub.item, event.at, tail)]
        return []  # failed rebills are webhook-only

    def subscription_row(self, sub: Subscription, at: int) -> str:
        """The Subscriptions export row of `sub`: its state at moment `at`."""
        order, item = sub.order, sub.item
        text = self._order_text(order)
        day, time = self.clock.date_time(order.at)
        return (
            f"{text.head},{_export_field(sub.tc_id)},{day},{time},{text.order},"
            f"{_item_text(item, at)},{sub.processor_id or '-'},{item.plan.frequency},"
            f"{major(sub.gross)},{sub.status_at(at)},-,-\n"
        )


def _amounts(
    kind: str,
    transaction: str,
    sub: Subscription | None,
    price: str,
    tax: int,
    total: int,
    order: Order,
) -> str:
    """The columns from `event` to `email_verify` of a payment row, rendered. Ids and amounts
    never need quoting, so they are formatted directly (`-` when empty), not field by field."""
    return (
        f"{kind},{transaction or '-'},{sub.tc_id if sub else '-'},{price},{major(tax)},"
        f"{order.tax_percent},{major(total)},-,-\n"
    )


def _paid(
    kind: str, transaction: str, sub: Subscription | None, net: int, tax: int, order: Order
) -> str:
    """A charge or rebill row's amounts: its net price, tax and total."""
    return _amounts(kind, transaction, sub, major(net), tax, net + tax, order)


def _charged(item: Item, order: Order) -> str:
    return _paid("charge", item.charge_id, item.subscription, item.net, item.tax, order)


def _refunded(refund: Refund, sign: int) -> str:
    """Refund rows name the refunded charge; `product_price` is `-`, amounts carry `sign`."""
    transaction = refund.rebill.charge_id if refund.rebill else refund.item.charge_id
    sub, order = refund.item.subscription, refund.order
    return _amounts("refund", transaction, sub, "-", sign * refund.tax, sign * refund.gross, order)

"""What the sources reveal about each subscription, for truth.json's subscription sections.

A subscription is seen through what the pipeline can know (docs/interfaces.md): its payments
(in the latest export or a delivered webhook), its failed rebills (webhooks only), its
cancellation (a delivered webhook or the latest export's cancel row), its kind and frequency
(the Subscriptions export, or a delivered rebill), and its number of instalments (a delivered
rebill's `remaining_rebills`, or the scheduled payments of a delivered order). The rules that
turn this into lifecycles and marts are in `pipeline.demo.subscription_marts`.

A subscription's end depends on `as_of`, known only once every customer is simulated, so each
customer's subscriptions are written to a work file (`subscriptions_line`) and read back one
customer at a time (`read_subscriptions_line`) when truth.json is written: memory stays flat.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

from pipeline.demo.events import Cancel, Checkout, Event, Rebill, RebillFailed, Subscription
from pipeline.demo.timeline import SUBSCRIPTION_EXPORT_DELAYS, Timeline


@dataclass(slots=True)
class SeenSubscription:
    """One subscription as the sources show it; times in epoch seconds, amounts in cents."""

    email: str  # lower(trim())
    currency: str
    product_id: str
    product_name: str  # the Subscriptions export's name, else the order's
    kind: str | None = None  # recurring | limited, None while no source says
    frequency: str = ""
    payments: list[tuple[int, str, int]] = field(default_factory=list)  # (at, kind, cents)
    failures: dict[int, int] = field(default_factory=dict)  # rebill index -> first failure
    cancelled_at: int | None = None
    planned: int | None = None  # instalments of a split-pay plan, when a webhook said
    exported_completed: bool = False  # the Subscriptions export says completed


_FIELDS = tuple(f.name for f in fields(SeenSubscription))
_LINE_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def subscriptions_line(subscriptions: list[SeenSubscription]) -> str:
    """One customer's subscriptions as a JSON line, each its fields in declaration order."""
    rows = [[getattr(sub, name) for name in _FIELDS] for sub in subscriptions]
    return _LINE_JSON.encode(rows) + "\n"


def read_subscriptions_line(line: str) -> list[SeenSubscription]:
    """The subscriptions `subscriptions_line` wrote (JSON turned the failures' keys to text)."""
    subscriptions = []
    for values in json.loads(line):
        sub = SeenSubscription(*values)
        sub.payments = [(at, kind, cents) for at, kind, cents in sub.payments]
        sub.failures = {int(index): at for index, at in sub.failures.items()}
        subscriptions.append(sub)
    return subscriptions


def observe_subscriptions(events: list[Event], timeline: Timeline) -> list[SeenSubscription]:
    """The live subscriptions of one simulated person, as the sources reveal them."""
    seen: dict[str, SeenSubscription] = {}
    for event in events:
        if isinstance(event, Checkout):
            if event.order.live:
                _checkout(seen, event, timeline)
            continue
        if not isinstance(event, Rebill | RebillFailed | Cancel) or not event.sub.order.live:
            continue
        sub = seen.get(event.sub.tc_id)
        if sub is None:
            continue  # its checkout is in no source, so neither is the subscription
        in_export = event.at <= timeline.latest_export_at and not isinstance(event, RebillFailed)
        delivered = event.delivery is not None
        if isinstance(event, Rebill):
            _rebill(sub, event, in_export, delivered)
        elif isinstance(event, RebillFailed) and delivered:
            sub.failures[event.index] = min(sub.failures.get(event.index, event.at), event.at)
        elif isinstance(event, Cancel) and (in_export or delivered):
            sub.cancelled_at = min(sub.cancelled_at or event.at, event.at)
    return list(seen.values())


def _checkout(seen: dict[str, SeenSubscription], event: Checkout, timeline: Timeline) -> None:
    order = event.order
    in_export = order.at <= timeline.latest_export_at
    if not (in_export or event.delivery is not None):
        return
    for item in order.items:
        sub = item.subscription
        if sub is None:
            continue
        exported_at = timeline.latest_export_at + SUBSCRIPTION_EXPORT_DELAYS[sub.kind]
        seen[sub.tc_id] = entry = SeenSubscription(
            email=order.buyer.email.strip().lower(),
            currency=order.currency,
            product_id=item.offer.id_text,
            product_name=item.offer.name_at(exported_at if in_export else order.at),
            payments=[(order.at, "charge", item.gross)],
        )
        if in_export:
            _known_kind(entry, sub)
            entry.exported_completed = sub.status_at(exported_at) == "completed"
        if event.delivery is not None:
            entry.frequency = sub.item.plan.frequency
            if sub.kind == "limited":
                entry.planned = sub.item.plan.payments


def _rebill(sub: SeenSubscription, event: Rebill, in_export: bool, delivered: bool) -> None:
    if in_export or delivered:
        sub.payments.append((event.at, "rebill", event.sub.gross))
    if delivered:
        _known_kind(sub, event.sub)
        if event.sub.kind == "limited":
            sub.planned = event.sub.item.plan.payments


def _known_kind(entry: SeenSubscription, sub: Subscription) -> None:
    entry.kind = sub.kind
    entry.frequency = sub.item.plan.frequency

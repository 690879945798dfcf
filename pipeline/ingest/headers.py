"""Which export a CSV header belongs to, and where each of its columns goes.

ThriveCart exports are mapped by column name, never by position: sellers re-save them in
spreadsheets that reorder, drop, rename and add columns. A header is normalised
(`"Order ID"` -> `order_id`), repeated names are numbered (the Subscriptions export really has
two `subscription_id` columns: the second becomes `subscription_id_2`), and the one alias table
below maps known spellings onto the raw table's columns. Whatever is left goes to `_extra`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.ingest.rejection import FileRejected

TRANSACTIONS = "transactions"
SUBSCRIPTIONS = "subscriptions"

# The headers of docs/interfaces.md ("Raw tables"), as ThriveCart writes them.
_TRANSACTIONS_HEADER = (
    "company,first_name,last_name,full_name,address_line1,address_city,address_state,address_zip,"
    "address_country,shipping_full_name,shipping_address_line1,shipping_address_city,"
    "shipping_address_state,shipping_address_zip,shipping_address_country,telephone,email,"
    "checkbox_confirmation,company_vat_number,order_id,order_date,order_time,processor,"
    "order_currency,coupon,campaign_id,affiliate_id,affiliate_name,relevant_item_name,"
    "relevant_item,relevant_item_id,relevant_item_pricing_option,event,transaction_id,"
    "subscription_id,product_price,sales_tax,sales_tax_rate,total,business_info,email_verify"
)
_SUBSCRIPTIONS_HEADER = (
    "company,first_name,last_name,full_name,address_line1,address_city,address_state,address_zip,"
    "address_country,shipping_full_name,shipping_address_line1,shipping_address_city,"
    "shipping_address_state,shipping_address_zip,shipping_address_country,telephone,email,"
    "checkbox_confirmation,company_vat_number,subscription_id,order_date,order_time,processor,"
    "order_currency,coupon,campaign_id,affiliate_id,affiliate_name,relevant_item_name,"
    "relevant_item,relevant_item_id,relevant_item_pricing_option,subscription_id,frequency,"
    "amount,subscription_status,business_info,email_verify"
)

# Normalised spelling -> raw column. The one place to teach the loader a new column name.
ALIASES: dict[str, str] = {
    "email_address": "email",
    "customer_email": "email",
    "e_mail": "email",
    "phone": "telephone",
    "phone_number": "telephone",
    "name": "full_name",
    "customer_name": "full_name",
    "zip": "address_zip",
    "postcode": "address_zip",
    "postal_code": "address_zip",
    "country": "address_country",
    "vat_number": "company_vat_number",
    "currency": "order_currency",
    "date": "order_date",
    "time": "order_time",
    "payment_processor": "processor",
    "product_name": "relevant_item_name",
    "item_name": "relevant_item_name",
    "product_id": "relevant_item_id",
    "item_id": "relevant_item_id",
    "pricing_option": "relevant_item_pricing_option",
    "transaction_type": "event",
    "event_type": "event",
    "tax": "sales_tax",
    "tax_amount": "sales_tax",
    "tax_rate": "sales_tax_rate",
    "status": "subscription_status",
    "processor_subscription_id": "subscription_id_2",
}

# Columns only one of the two exports has: a header is the export it shares most of these with.
_DISTINCTIVE = {
    TRANSACTIONS: {"event", "transaction_id", "product_price", "sales_tax", "total"},
    SUBSCRIPTIONS: {"subscription_id_2", "frequency", "amount", "subscription_status"},
}
# Without its key column an export's rows cannot be told apart downstream.
_KEY_COLUMN = {TRANSACTIONS: "order_id", SUBSCRIPTIONS: "subscription_id"}
_MIN_DISTINCTIVE = 2


class UnrecognisedHeader(FileRejected):
    """The first line is not a header of either export; the message says what was expected."""


def normalise(name: str, position: int) -> str:
    """`" Order ID\\ufeff"` -> `order_id`; an empty name becomes `column_<position>` (1-based)."""
    cleaned = re.sub(r"[^0-9a-z]+", "_", name.replace("\ufeff", "").strip().casefold())
    return cleaned.strip("_") or f"column_{position}"


def disambiguate(names: Sequence[str]) -> list[str]:
    """Number repeated names from their second occurrence on: `id, id` -> `id, id_2`."""
    seen: set[str] = set()
    result = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        result.append(candidate)
    return result


def source_names(header: Sequence[str]) -> list[str]:
    """The normalised, de-duplicated name of each column of a file's header, in file order."""
    return disambiguate([normalise(name, i) for i, name in enumerate(header, start=1)])


TRANSACTIONS_COLUMNS: tuple[str, ...] = tuple(source_names(_TRANSACTIONS_HEADER.split(",")))
SUBSCRIPTIONS_COLUMNS: tuple[str, ...] = tuple(source_names(_SUBSCRIPTIONS_HEADER.split(",")))
COLUMNS = {TRANSACTIONS: TRANSACTIONS_COLUMNS, SUBSCRIPTIONS: SUBSCRIPTIONS_COLUMNS}


@dataclass(frozen=True)
class HeaderMatch:
    """How one file's columns map onto its raw table.

    `targets[i]` is the raw column fed by the file's i-th column, or None when that column goes
    to `_extra` under `names[i]`.
    """

    export: str
    names: tuple[str, ...]
    targets: tuple[str | None, ...]
    missing: tuple[str, ...]

    @property
    def extra(self) -> tuple[str, ...]:
        """Source columns the raw table has no column for (kept in `_extra`)."""
        return tuple(n for n, t in zip(self.names, self.targets, strict=True) if t is None)


def _apply_aliases(names: list[str]) -> list[str]:
    """Rename aliased columns, unless the file already has the column the alias points to."""
    present = set(names)
    result = []
    for name in names:
        target = ALIASES.get(name)
        if target is not None and target not in present:
            present.add(target)
            result.append(target)
        else:
            result.append(name)
    return result


def match_header(header: Sequence[str]) -> HeaderMatch:
    """Recognise the export a header belongs to; UnrecognisedHeader when it is neither."""
    names = source_names(header)
    mapped = _apply_aliases(names)
    present = set(mapped)
    scores = {export: len(cols & present) for export, cols in _DISTINCTIVE.items()}
    export = max(scores, key=lambda e: scores[e])
    if scores[export] < _MIN_DISTINCTIVE or list(scores.values()).count(scores[export]) > 1:
        raise UnrecognisedHeader(_unrecognised_problem(names), _UNRECOGNISED_FIX)
    if _KEY_COLUMN[export] not in present:
        raise UnrecognisedHeader(
            f"the header looks like a {export.title()} export but has no "
            f"{_KEY_COLUMN[export]!r} column, so its rows cannot be told apart.",
            "Drop the export as ThriveCart produced it, or restore that column.",
        )
    columns = COLUMNS[export]
    targets = tuple(name if name in columns else None for name in mapped)
    missing = tuple(c for c in columns if c not in present)
    return HeaderMatch(export=export, names=tuple(names), targets=targets, missing=missing)


_UNRECOGNISED_FIX = (
    "Drop the CSV exactly as ThriveCart exported it; if you edited it in a spreadsheet, keep "
    "the header as the first row and save it as CSV."
)


def _unrecognised_problem(names: Sequence[str]) -> str:
    shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
    return (
        f"unrecognised header: the first line ({shown}) is not the header of a ThriveCart "
        "Transactions export (order_id, event, transaction_id, total, …) or Subscriptions "
        "export (subscription_id, frequency, amount, subscription_status, …)."
    )

"""The cost, ad spend and exchange-rate files of docs/costs.md: which format a file is, and its
rows as typed values, each bad row with its line and a plain reason.

The files are small (a rule per line, a row per day), so they are read in Python, where every
format's quirks are easy to state: the Google Ads report's title lines and total row, Meta's
currency in the spend column's name, the ECB's one column per currency with N/A, a
spreadsheet's decimal commas and day-first dates. The folder says which formats may be in it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import islice
from pathlib import Path

from babel.numbers import list_currencies

from pipeline.ingest.csv_values import DAY_FIRST, MONTH_FIRST
from pipeline.ingest.encoding import undecodable
from pipeline.ingest.rejection import FileRejected
from pipeline.ingest.sniff import UTF16_BOMS
from pipeline.warehouse import (
    AD_SPEND_TABLE,
    FX_RATES_TABLE,
    PROCESSOR_FEES_TABLE,
    PRODUCT_COSTS_TABLE,
)

PROCESSOR_FEES, PRODUCT_COSTS, AD_SPEND, FX_RATES = (
    "processor_fees", "product_costs", "ad_spend", "fx_rates"
)  # fmt: skip
INPUT_TABLES = {
    PROCESSOR_FEES: PROCESSOR_FEES_TABLE,
    PRODUCT_COSTS: PRODUCT_COSTS_TABLE,
    AD_SPEND: AD_SPEND_TABLE,
    FX_RATES: FX_RATES_TABLE,
}
# Top-level landing folder -> the inputs it may hold (matched case-insensitively).
INPUT_FOLDERS = {
    "costs": (PROCESSOR_FEES, PRODUCT_COSTS),
    "ad_spend": (AD_SPEND,),
    "fx_rates": (FX_RATES,),
}
CURRENCIES = frozenset(list_currencies())
ITEM_TYPES = ("product", "bump", "upsell", "downsell")
# Lines before the header a report may have (Google Ads: its title and date range).
MAX_PREAMBLE_LINES = 10
_SEE_DOCS = "See docs/costs.md for the columns each format needs."

Row = tuple[object, ...]


@dataclass(frozen=True)
class Parsed:
    """A file's good rows (in its table's column order), bad lines and notes."""

    export: str
    file_format: str
    rows: list[Row]
    rejected: list[tuple[int, str, str]]  # line, reason, the line's text
    notes: list[str]


def input_folder(rel_path: str) -> str | None:
    """`costs`, `ad_spend` or `fx_rates` when the file sits in (a subfolder of) one."""
    parts = Path(rel_path).parts
    top = parts[0].lower() if len(parts) > 1 else ""
    return top if top in INPUT_FOLDERS else None


def _name(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def _decode(data: bytes) -> str:
    if data.startswith(UTF16_BOMS):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise undecodable() from exc


def read_head(path: Path) -> list[str]:
    """The file's first MAX_PREAMBLE_LINES lines as text, all header_format needs, so routing
    a file does not read it whole. UTF-16 is read as text: its line break is two bytes."""
    with path.open("rb") as f:
        if f.read(2) not in UTF16_BOMS:
            f.seek(0)
            return _decode(b"".join(islice(f, MAX_PREAMBLE_LINES))).splitlines()
    with path.open(encoding="utf-16", newline="") as text:
        return "".join(islice(text, MAX_PREAMBLE_LINES)).splitlines()


# --- values --------------------------------------------------------------------------------


class BadValue(ValueError):
    """A value that cannot be read; the message is the row's reason."""


_DMY = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})$")


def date_order(values: list[str], default: str) -> str:
    """Day-first or month-first for a file's non-ISO dates: a first number above 12 says
    day-first, a second above 12 month-first, else `default`."""
    for value in values:
        if found := _DMY.match(value.strip()):
            if int(found.group(1)) > 12:
                return DAY_FIRST
            if int(found.group(2)) > 12:
                return MONTH_FIRST
    return default


def parse_date(value: str, order: str) -> date:
    text = value.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    found = _DMY.match(text)
    if not found:
        raise BadValue(f"date {value!r} is not YYYY-MM-DD")
    first, second, year = (int(g) for g in found.groups())
    day, month = (first, second) if order == DAY_FIRST else (second, first)
    try:
        return date(year + 2000 if year < 100 else year, month, day)
    except ValueError as exc:
        raise BadValue(f"date {value!r} is not a calendar day") from exc


def parse_amount(value: str, what: str) -> Decimal:
    """An amount as a spreadsheet may write it: currency symbols, spaces and thousands
    separators ignored, a comma as the decimal mark when it ends the number."""
    text = re.sub(r"[^\d,.\-]", "", value)
    if "," in text and "." in text:
        thousands = "," if text.rfind(".") > text.rfind(",") else "."
        text = text.replace(thousands, "").replace(",", ".")
    elif "," in text:
        text = text.replace(",", ".") if re.search(r",\d{1,2}$", text) else text.replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise BadValue(f"{what} {value!r} is not an amount") from exc
    if amount < 0:
        raise BadValue(f"{what} {value!r} is negative")
    return amount


def parse_currency(value: str) -> str:
    code = value.strip().upper()
    if code not in CURRENCIES:
        raise BadValue(f"currency {value!r} is not an ISO 4217 code (USD, EUR, …)")
    return code


def _required(value: str, what: str) -> str:
    if not value.strip():
        raise BadValue(f"{what} is empty")
    return value.strip()


# --- formats -------------------------------------------------------------------------------

Fields = dict[str, str]
RowReader = Callable[[Fields, str], list[Row]]


def _fee_row(f: Fields, order: str) -> list[Row]:
    return [(
        f.get("account", "").strip().lower() or "*",
        _required(f.get("processor", ""), "processor").lower(),
        parse_currency(f.get("currency", "")),
        parse_amount(f.get("fee_percent", ""), "fee_percent"),
        parse_amount(f.get("fee_fixed", "") or "0", "fee_fixed"),
        parse_date(f.get("valid_from", ""), order),
    )]  # fmt: skip


def _cost_row(f: Fields, order: str) -> list[Row]:
    item_type = (f.get("item_type", "") or "product").strip().lower()
    if item_type not in ITEM_TYPES:
        raise BadValue(f"item_type {item_type!r} is not one of {', '.join(ITEM_TYPES)}")
    return [(
        f.get("account", "").strip().lower() or "*",
        item_type,
        _required(f.get("product_id", ""), "product_id"),
        parse_currency(f.get("currency", "")),
        parse_amount(f.get("cost_per_sale", ""), "cost_per_sale"),
        parse_date(f.get("valid_from", ""), order),
    )]  # fmt: skip


def _spend_row(channel: str | None, fmt: str) -> RowReader:
    def read(f: Fields, order: str) -> list[Row]:
        return [(
            f.get("account", "").strip().lower(),
            parse_date(f.get("date", ""), order),
            channel or _required(f.get("channel", ""), "channel").lower(),
            f.get("campaign", "").strip(),
            parse_currency(f.get("currency", "")),
            parse_amount(f.get("spend", ""), "spend"),
            fmt,
        )]  # fmt: skip

    return read


def _rate_row(f: Fields, order: str) -> list[Row]:
    rate = parse_amount(f.get("rate", ""), "rate")
    if rate == 0:
        raise BadValue("rate is 0")
    base = parse_currency(f.get("base", "") or "EUR")
    return [(parse_date(f.get("date", ""), order), base, parse_currency(f.get("currency", "")),
             rate, "plain")]  # fmt: skip


def _ecb_rows(f: Fields, order: str) -> list[Row]:
    day = parse_date(f.get("date", ""), order)
    rows: list[Row] = []
    for code, value in f.items():
        if code != "date" and value.strip() and value.strip().upper() != "N/A":
            rate = parse_amount(value, code.upper())
            rows.append((day, "EUR", parse_currency(code), rate, "ecb"))
    return rows


@dataclass(frozen=True)
class Format:
    """One accepted layout: its input, the columns that identify it and how to read a row."""

    export: str
    name: str
    required: frozenset[str]
    read: RowReader
    aliases: tuple[tuple[str, str], ...] = ()  # (normalised header, field)


FEE_COLUMNS = frozenset({"processor", "fee_percent", "currency", "valid_from"})
COST_COLUMNS = frozenset({"product_id", "cost_per_sale", "currency", "valid_from"})
FORMATS = (
    Format(PROCESSOR_FEES, "plain", FEE_COLUMNS, _fee_row,
           (("percent", "fee_percent"), ("fixed_fee", "fee_fixed"))),
    Format(PRODUCT_COSTS, "plain", COST_COLUMNS, _cost_row,
           (("item_id", "product_id"), ("cost", "cost_per_sale"))),
    Format(AD_SPEND, "meta", frozenset({"campaign", "date", "spend"}),
           _spend_row("facebook", "meta"),
           (("campaign_name", "campaign"), ("day", "date"), ("reporting_starts", "date"))),
    Format(AD_SPEND, "google", frozenset({"campaign", "date", "spend", "currency"}),
           _spend_row("google", "google"),
           (("day", "date"), ("cost", "spend"), ("currency_code", "currency"))),
    Format(AD_SPEND, "plain", frozenset({"date", "channel", "spend", "currency"}),
           _spend_row(None, "plain")),
    Format(FX_RATES, "plain", frozenset({"date", "currency", "rate"}), _rate_row),
)  # fmt: skip
_META_SPEND = re.compile(r"^amount_spent(?:_([a-z]{3}))?$")


def _fields_for(fmt: Format, names: list[str]) -> list[str] | None:
    """The field each column feeds (or ''), when the header fits `fmt`."""
    aliases = dict(fmt.aliases)
    fields = []
    for name in names:
        field = aliases.get(name, name)
        if fmt.name == "meta" and _META_SPEND.match(name):
            field = "spend"
        fields.append(field)
    if fmt.name == "meta" and not any(_META_SPEND.match(n) for n in names):
        return None
    if fmt.name == "google" and "day" not in names:
        return None
    return fields if fmt.required <= set(fields) else None


def _meta_currency(names: list[str]) -> str | None:
    for name in names:
        if (found := _META_SPEND.match(name)) and found.group(1):
            return found.group(1).upper()
    return None


def _is_ecb(names: list[str]) -> bool:
    codes = names[1:]
    return (
        bool(names)
        and names[0] == "date"
        and bool(codes)
        and all(n.upper() in CURRENCIES for n in codes)
    )


@dataclass(frozen=True)
class Header:
    """What a file's header line says: how its lines split, which format it is, where it is."""

    delimiter: str
    index: int  # of the header among the file's CSV rows
    format: Format | None  # None for the ECB file
    fields: list[str]  # the field each column feeds, '' for none
    currency: str | None  # Meta's, from the spend column's name

    @property
    def export(self) -> str:
        return FX_RATES if self.format is None else self.format.export

    @property
    def file_format(self) -> str:
        return "ecb" if self.format is None else self.format.name


def header_format(lines: list[str], allowed: tuple[str, ...]) -> Header:
    """The header among a file's first MAX_PREAMBLE_LINES text lines, of a format `allowed`:
    all the landing sensor reads to route a file. The delimiter is the one these lines use most
    (a report's title line has none)."""
    head = "\n".join(lines[:MAX_PREAMBLE_LINES])
    delimiter = max((",", ";", "\t"), key=head.count)
    rows = list(csv.reader(io.StringIO(head), delimiter=delimiter))
    index, fmt, fields = _header(rows, allowed)
    currency = _meta_currency([_name(cell) for cell in rows[index]])
    return Header(delimiter, index, fmt, fields, currency)


def _header(
    lines: list[list[str]], allowed: tuple[str, ...]
) -> tuple[int, Format | None, list[str]]:
    """(index of the header line, its format (None for the ECB file), the field of each
    column)."""
    for index, line in enumerate(lines):
        names = [_name(cell) for cell in line]
        while names and not names[-1]:
            names.pop()  # the ECB file ends every line with a comma
        if FX_RATES in allowed and _is_ecb(names):
            return index, None, names
        for fmt in FORMATS:
            if fmt.export in allowed and (fields := _fields_for(fmt, names)):
                return index, fmt, fields
    expected = "; ".join(
        f"{f.export.replace('_', ' ')} ({f.name}): {', '.join(sorted(f.required))}"
        for f in FORMATS if f.export in allowed
    )  # fmt: skip
    raise FileRejected(
        f"no line of its first {MAX_PREAMBLE_LINES} is a header this folder takes ({expected}).",
        f"Check that the file belongs in this folder and has its header row. {_SEE_DOCS}",
    )


def _records(
    lines: list[list[str]], start: int, fields: list[str]
) -> Iterator[tuple[int, Fields, str]]:
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if not any(cell.strip() for cell in line):
            continue
        values = dict(zip(fields, line, strict=False))
        values.pop("", None)
        yield number, values, ",".join(line)


def parse_input(path: Path, rel_path: str, default_order: str = MONTH_FIRST) -> Parsed:
    """Read one input file; FileRejected when the file as a whole cannot be read."""
    folder = input_folder(rel_path)
    if folder is None:
        raise FileRejected(f"{rel_path} is not in an input folder.", _SEE_DOCS)
    text = _decode(path.read_bytes())
    header = header_format(text.splitlines(), INPUT_FOLDERS[folder])
    lines = list(csv.reader(io.StringIO(text), delimiter=header.delimiter))
    read: RowReader = _ecb_rows if header.format is None else header.format.read
    records = list(_records(lines, header.index, header.fields))
    order = date_order(
        [r[1].get("date", r[1].get("valid_from", "")) for r in records], default_order
    )
    rows: list[Row] = []
    rejected: list[tuple[int, str, str]] = []
    skipped = 0
    for number, values, raw in records:
        if next(iter(values.values()), "").strip().lower().startswith("total"):
            skipped += 1
            continue
        if header.currency and not values.get("currency"):
            values["currency"] = header.currency
        try:
            rows += read(values, order)
        except BadValue as exc:
            rejected.append((number, str(exc), raw))
    notes = [f"skipped {skipped} total row(s)"] if skipped else []
    return Parsed(header.export, header.file_format, rows, rejected, notes)

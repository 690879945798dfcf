"""How numbers and times read in the report and the summary, in one place so they agree."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

Number = Decimal | float | int


def money(value: Number | None) -> str:
    """An amount in major units with thousands separators, e.g. `1,234.50`; `n/a` when null."""
    return "n/a" if value is None else f"{value:,.2f}"


def count(value: int | None) -> str:
    """A whole number with thousands separators, e.g. `1,234`."""
    return "n/a" if value is None else f"{value:,}"


def percent(value: Number | None) -> str:
    """A share (0.3125) as a percentage with one decimal, e.g. `31.3%`; `n/a` when null."""
    return "n/a" if value is None else f"{100 * value:,.1f}%"


def days(value: Number | None) -> str:
    """A number of days, e.g. `12.5`; `n/a` when null (nobody to measure yet)."""
    return "n/a" if value is None else f"{value:,.1f}"


def when(value: datetime | None) -> str:
    """A UTC time to the minute; the marts store naive UTC timestamps."""
    return "no payments yet" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def ratio(value: Number | None) -> str:
    """A multiple, e.g. margin to CAC `1.07×`; `n/a` when null."""
    return "n/a" if value is None else f"{value:,.2f}×"


def months(value: Number | None) -> str:
    """A number of months, whole when it is (`1`), else to one decimal (`1.5`, a median)."""
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"

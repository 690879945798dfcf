"""Re-save an export the way a spreadsheet does (a test helper, no tests here).

`resave(src, dst, "us")` writes what Excel in a US locale saves after opening and saving a
ThriveCart export: `4/23/2024` dates, `2:05:00 PM` times, amounts without trailing zeros
(`39`, `12.5`, `1,234.5`), zips as numbers (leading zeros lost), and a `Total` row at the
bottom. `"eu"` is a European locale: `;` between fields, `23.04.2024`, `14:05:00`, decimal
commas with `.` thousands (`1.234,50`) and a `Summe` row. Both keep every row and column.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Literal

AMOUNTS = ("product_price", "sales_tax", "total", "amount")
MISSING = ("", "-", "null")


def _us_amount(value: Decimal) -> str:
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text


def _eu_amount(value: Decimal) -> str:
    return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def _us_time(text: str) -> str:
    hour, minute, second = (int(part) for part in text.split(":"))
    suffix = "AM" if hour < 12 else "PM"
    return f"{hour % 12 or 12}:{minute:02d}:{second:02d} {suffix}"


def _cell(name: str, value: str, style: str) -> str:
    if value.strip() in MISSING:
        return value
    if name == "order_date":
        year, month, day = value.split("-")
        if style == "us":
            return f"{int(month)}/{int(day)}/{year}"
        return f"{day}.{month}.{year}"
    if name == "order_time" and style == "us":
        return _us_time(value)
    if name in AMOUNTS:
        amount = Decimal(value)
        return _us_amount(amount) if style == "us" else _eu_amount(amount)
    if name.endswith("_zip") and value.strip().isdigit():
        return str(int(value))
    return value


def resave(src: Path, dst: Path, style: Literal["us", "eu"], total_row: bool = True) -> None:
    """Write `src` (a clean export) to `dst` as a spreadsheet in `style` would save it."""
    with src.open(newline="", encoding="utf-8-sig") as f:
        header, *rows = list(csv.reader(f))
    names = [name.strip() for name in header]
    out = [[_cell(n, v, style) for n, v in zip(names, row, strict=True)] for row in rows]
    if total_row:
        totals = [""] * len(names)
        totals[0] = "Total" if style == "us" else "Summe"
        for column in ("total", "amount"):
            if column in names:
                i = names.index(column)
                summed = sum(Decimal(r[i]) for r in rows if r[i].strip() not in MISSING)
                totals[i] = _us_amount(summed) if style == "us" else _eu_amount(summed)
        out.append(totals)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f, delimiter="," if style == "us" else ";", lineterminator="\r\n")
        writer.writerows([header, *out])

"""The key numbers as a short markdown table, for Dagster asset metadata.

One row per currency (amounts of different currencies are never added): customers acquired,
net revenue, and LTV at 30, 90 and 365 days, with how current the data is.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.report import queries
from pipeline.report.formatting import count, money
from pipeline.report.marts import open_marts
from pipeline.report.queries import HEADLINE_DAYS


def summary_markdown(database: Path, schema: str = "marts") -> str:
    """Key numbers of the marts in `schema` of `database`, opened read-only.

    The default suits the warehouse (schema `marts`); the published snapshot keeps its marts in
    schema `main`. Raises ReportError when the file or a mart is missing.
    """
    with open_marts(database, schema) as con:
        return key_numbers_markdown(con)


def key_numbers_markdown(con: duckdb.DuckDBPyConnection) -> str:
    """Key numbers of the marts on `con` (a connection from `open_marts`)."""
    currencies = queries.currencies(con)
    if not currencies:
        return "No payments in the marts yet."
    ltv_headers = "".join(f" LTV {day}d |" for day in HEADLINE_DAYS)
    lines = [
        f"{queries.data_as_of(con).describe()}:",
        "",
        f"| currency | customers | net revenue |{ltv_headers}",
        "|---|---:|---:|" + "---:|" * len(HEADLINE_DAYS),
    ]
    for currency in currencies:
        h = queries.headline(con, currency)
        ltv = "".join(f" {money(h.ltv_at(day))} |" for day in HEADLINE_DAYS)
        lines.append(f"| {currency} | {count(h.customers)} | {money(h.net_revenue)} |{ltv}")
    lines += [
        "",
        "LTV at day N: net revenue per customer within N days of the first payment, over "
        "customers acquired at least N days before that time (n/a: none yet).",
    ]
    return "\n".join(lines)

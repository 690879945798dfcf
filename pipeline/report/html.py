"""HTML building blocks shared by the report's sections: tables, chart blocks, ids, and the
cells and blocks the control bar (`controls`) switches.

Cells are trusted HTML: callers escape anything from the data before it reaches them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape

from plotly.graph_objects import Figure

from pipeline.report import charts
from pipeline.report.formatting import money
from pipeline.report.queries import Row


def chart_block(title: str, explanation: str, figure: Figure | None, div_id: str) -> str:
    """A titled chart with one line saying what it shows; `No data yet.` without a figure."""
    body = charts.figure_html(figure, div_id) if figure is not None else "<p>No data yet.</p>"
    return f'<h3>{escape(title)}</h3>\n<p class="explain">{explanation}</p>\n{body}\n'


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    table_id: str,
    accounts: Sequence[str] | None = None,
) -> str:
    """An HTML table. With `accounts` (one per row), each row names its account in
    `data-account`, so the account control can show one account's rows."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        f"<tr{_account_attribute(accounts[i]) if accounts is not None else ''}>"
        + "".join(f"<td>{cell}</td>" for cell in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n'


def account_block(account: str, heading: bool, body: str) -> str:
    """One account's part of a section, named when the currency has several accounts; the
    account control hides it when another account is chosen."""
    title = f"<h4>{escape(account)}</h4>\n" if heading else ""
    return f'<div class="account"{_account_attribute(account)}>\n{title}{body}</div>\n'


def clock_cell(cash: str, charge: str) -> str:
    """A number on both refund clocks: the cash clock shows, the charge clock is hidden by the
    stylesheet until the clock control picks it (so the page reads on the cash clock without
    JavaScript)."""
    return f'<span class="clock-cash">{cash}</span><span class="clock-charge">{charge}</span>'


def clocks(row: Row, column: str) -> str:
    """An amount of `row` on both refund clocks (the charge clock's column ends in
    `_charge_clock`)."""
    return clock_cell(money(row[column]), money(row[f"{column}_charge_clock"]))


def slug(text: str) -> str:
    """An HTML id from data or a title: letters, digits and dashes only."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _account_attribute(account: str) -> str:
    return f' data-account="{escape(account, quote=True)}"'

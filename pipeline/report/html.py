"""HTML building blocks shared by the report's sections: tables, chart blocks, ids, and the
cells and blocks the control bar (`controls`) switches.

Cells are trusted HTML: callers escape anything from the data before it reaches them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from html import escape
from itertools import groupby
from typing import NamedTuple

from plotly.graph_objects import Figure

from pipeline.report import charts
from pipeline.report.formatting import money
from pipeline.report.queries import Row


class SectionText(NamedTuple):
    """What a section says: its title, what it shows, the sentence that stands in for it when
    the currency has no rows, and what the chosen account lacks ("The chosen account has no
    {none} in {currency}.")."""

    title: str
    intro: str
    empty: str
    none: str


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


def account_section(
    currency: str,
    texts: SectionText,
    rows: list[Row],
    several: bool,
    block: Callable[[str, list[Row]], str],
) -> str:
    """A titled section: one block per account of `rows` (sorted by account), or one sentence.

    The blocks share a `by-account` box with a note the account control shows when it hides
    every block (an account with nothing in this section), so the section never reads blank.
    """
    head = f'<h3>{escape(texts.title)}</h3>\n<p class="explain">{texts.intro}</p>\n'
    if not rows:
        return head + f'<p class="empty">{texts.empty}</p>\n'
    blocks = "".join(
        account_block(account, several, block(account, list(group)))
        for account, group in groupby(rows, key=lambda r: r["account"])
    )
    note_id = f"{slug(currency)}-{slug(texts.title)}-account-none"
    note = (
        f'<p class="account-none" id="{note_id}" hidden>The chosen account has no '
        f"{texts.none} in {escape(currency)}.</p>\n"
    )
    return head + f'<div class="by-account">\n{blocks}{note}</div>\n'


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

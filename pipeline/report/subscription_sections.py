"""The report's subscription sections of one currency: MRR movements, subscription retention,
and failed payments with split pay (docs/marts.md, "Subscription economics").

Each section has one block per account (named when the currency has several, as the
repeat-purchase section names them), a chart and a table that carries its numbers; a currency
without the data says so in one sentence instead of drawing an empty chart.
"""

from __future__ import annotations

from html import escape
from itertools import groupby

from pipeline.report import charts, subscription_charts
from pipeline.report.formatting import count, money, percent
from pipeline.report.html import SectionText, account_section, slug, table
from pipeline.report.queries import Row
from pipeline.report.subscriptions import MRR_AMOUNTS, REPORT_MONTHS, SubscriptionContents

MRR_HEADERS = [
    "Month",
    "Opening MRR",
    "New",
    "Expansion",
    "Reactivation",
    "Contraction",
    "Churned voluntary",
    "Churned delinquent",
    "Closing MRR",
    "Subscribers",
]
FAILED_HEADERS = [
    "Month of first failure",
    "Kind",
    "Failed rebills",
    "Recovered",
    "Not recovered",
    "Pending",
    "Recovery rate",
    "Recovered amount",
]
SPLIT_PAY_HEADERS = [
    "Product",
    "Start month",
    "Plans",
    "Completed",
    "Cancelled",
    "Active",
    "Completion rate",
    "Instalments collected",
    "Instalments outstanding",
    "Outstanding amount",
    "Unknown schedule",
]


def subscription_sections(currency: str, s: SubscriptionContents) -> str:
    """The three subscription sections of `currency`."""
    several = len(s.accounts()) > 1
    return (
        _mrr_section(currency, s.mrr, several)
        + _retention_section(currency, s.retention, several)
        + _payments_section(currency, s.failed, s.split_pay, several)
    )


def _mrr_section(currency: str, months: list[Row], several: bool) -> str:
    cur = escape(currency)
    intro = (
        f"How MRR (monthly recurring revenue of recurring plans, in {cur}) moved over the last "
        f"{REPORT_MONTHS} months: the MRR at the start, what new, expanding and returning "
        "subscribers added, what contraction and churn (voluntary, or delinquent: ended by "
        "failed payments) took, and the MRR now. The table gives each month; the month of the "
        "as-of time is incomplete."
    )
    empty = f"No recurring subscriptions in {cur}, so no MRR to show."

    def block(account: str, rows: list[Row]) -> str:
        div_id = f"{slug(currency)}-{slug(account)}-mrr"
        figure = subscription_charts.mrr_waterfall(rows, currency)
        return charts.figure_html(figure, f"{div_id}-waterfall") + table(
            MRR_HEADERS, [_mrr_cells(r) for r in rows], div_id
        )

    texts = SectionText("MRR movements", intro, empty, "recurring subscriptions")
    return account_section(currency, texts, months, several, block)


def _mrr_cells(r: Row) -> list[str]:
    month = f"{r['month']:%Y-%m}" + ("" if r["is_month_complete"] else " (incomplete)")
    return [month, *(money(r[c]) for c in MRR_AMOUNTS), count(r["closing_subscribers"])]


def _retention_section(currency: str, cells: list[Row], several: bool) -> str:
    cur = escape(currency)
    intro = (
        f"Of the subscribers who started a recurring plan in each of the last {REPORT_MONTHS} "
        "months (rows), the share still paying at the end of each month since (columns: logo "
        "retention). The table gives net MRR retention: their MRR then, expansion included, "
        "against the MRR they started with (above 100% when expansion outweighs churn); "
        "'to date' marks the month still running."
    )
    empty = f"No subscriber started a recurring plan in {cur} in the last {REPORT_MONTHS} months."

    def block(account: str, rows: list[Row]) -> str:
        div_id = f"{slug(currency)}-{slug(account)}-retention"
        figure = subscription_charts.retention_heatmap(rows)
        return charts.figure_html(figure, f"{div_id}-heatmap") + _retention_table(rows, div_id)

    texts = SectionText(
        "Subscription retention",
        intro,
        empty,
        f"subscriber who started a recurring plan in the last {REPORT_MONTHS} months",
    )
    return account_section(currency, texts, cells, several, block)


def _retention_table(cells: list[Row], table_id: str) -> str:
    """Start months down, net MRR retention by months since start across."""
    months = range(max(c["months_since_start"] for c in cells) + 1)
    headers = ["Start month", "Subscribers", "Starting MRR", *(f"Month {k}" for k in months)]
    rows = []
    for start, group in groupby(cells, key=lambda c: c["start_month"]):
        by_month = {c["months_since_start"]: c for c in group}
        first = next(iter(by_month.values()))
        rows.append(
            [
                f"{start:%Y-%m}",
                count(first["subscribers"]),
                money(first["starting_mrr"]),
                *(_retention_cell(by_month.get(k)) for k in months),
            ]
        )
    return table(headers, rows, table_id)


def _retention_cell(cell: Row | None) -> str:
    if cell is None:
        return ""
    running = "" if cell["is_month_complete"] else " (to date)"
    return percent(cell["net_mrr_retention"]) + running


def _payments_section(currency: str, failed: list[Row], plans: list[Row], several: bool) -> str:
    cur = escape(currency)
    intro = (
        f"Failed rebills in {cur} by month of their first failure over the last "
        f"{REPORT_MONTHS} months: recovered when a rebill was collected within the "
        "delinquency days (LTV_DELINQUENCY_DAYS), not recovered after them, pending until then. "
        "Then the split-pay plans by product and start month: completed, cancelled, still "
        "paying, and the instalments still to collect."
    )
    empty = f"No failed rebills in the last {REPORT_MONTHS} months and no split-pay plans in {cur}."
    accounts = {r["account"] for r in failed} | {r["account"] for r in plans}
    rows = [{"account": a} for a in sorted(accounts)]

    def block(account: str, _: list[Row]) -> str:
        mine = [r for r in failed if r["account"] == account]
        split = [r for r in plans if r["account"] == account]
        return _failed_block(currency, account, mine) + _split_pay_block(currency, account, split)

    texts = SectionText(
        "Failed payments and split pay",
        intro,
        empty,
        f"failed rebills in the last {REPORT_MONTHS} months and no split-pay plans",
    )
    return account_section(currency, texts, rows, several, block)


def _failed_block(currency: str, account: str, failed: list[Row]) -> str:
    if not failed:
        return f"<p>No failed rebills in the last {REPORT_MONTHS} months.</p>\n"
    div_id = f"{slug(currency)}-{slug(account)}-failed-payments"
    rows = [
        [
            f"{r['failure_month']:%Y-%m}",
            escape(str(r["kind"])),
            count(r["failed_rebills"]),
            count(r["recovered"]),
            count(r["not_recovered"]),
            count(r["pending"]),
            percent(r["recovery_rate"]),
            money(r["recovered_amount"]),
        ]
        for r in failed
    ]
    figure = subscription_charts.recovery_bars(failed)
    return charts.figure_html(figure, f"{div_id}-chart") + table(FAILED_HEADERS, rows, div_id)


def _split_pay_block(currency: str, account: str, plans: list[Row]) -> str:
    if not plans:
        return "<p>No split-pay plans.</p>\n"
    rows = [
        [
            escape(
                f"{r['product_name']} ({r['product_id']})"
                if r["product_name"]
                else str(r["product_id"])
            ),
            f"{r['start_month']:%Y-%m}",
            count(r["plans"]),
            count(r["completed"]),
            count(r["cancelled"]),
            count(r["active"]),
            percent(r["completion_rate"]),
            count(r["instalments_collected"]),
            count(r["instalments_outstanding"]),
            money(r["outstanding_amount"]),
            count(r["plans_with_unknown_schedule"]),
        ]
        for r in plans
    ]
    table_id = f"{slug(currency)}-{slug(account)}-split-pay"
    return table(SPLIT_PAY_HEADERS, rows, table_id)

"""The report page: headline numbers on top, then one section per currency.

Plain HTML tables carry the key numbers, so the page reads without JavaScript; charts add the
detail. A control bar (`controls`) picks the currency, account, day N and refund clock inside
the one file. Everything that comes from the data is escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from pipeline.report import charts, controls
from pipeline.report.acquisition_sections import acquisition_section
from pipeline.report.contents import CurrencyContents, ReportContents
from pipeline.report.formatting import count, days, money, percent, when
from pipeline.report.html import chart_block, clocks, slug, table
from pipeline.report.margin_sections import all_currencies_block, margin_section
from pipeline.report.queries import (
    HEADLINE_DAYS,
    PATH_LIMIT,
    Headline,
)
from pipeline.report.segment_sections import common_default_day, segment_sections
from pipeline.report.subscription_sections import subscription_sections

TITLE = "Customer lifetime value"
STYLE = (
    """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px;
       padding: 0 1rem; color: #1d2d35; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #dde3e6; text-align: right; }
th:first-child, td:first-child { text-align: left; }
table[id$="-product-paths"] td:nth-child(2), table[id$="-product-paths"] th:nth-child(2) {
  text-align: left; }
th { background: #f3f6f7; }
p.explain { color: #4a5a62; margin: 0.2rem 0 0.5rem; }
section.currency { border-top: 3px solid #264653; margin-top: 2.5rem; }
.meta { color: #4a5a62; }
"""
    + controls.STYLE
)
LTV_NOTE = (
    "LTV at day N: net revenue within N days of each customer's first payment, per customer "
    "acquired at least N days before the as-of time above. Amounts are in the row's currency; "
    "currencies are never added together. Refunds count on the day they happened (the cash "
    "clock); the charge clock, in the bar above, counts them on the date of the charge they "
    "refund."
)


def render_page(contents: ReportContents) -> str:
    """The complete, self-contained HTML document."""
    nav = " · ".join(
        f'<a href="#{slug(c.currency)}">{escape(c.currency)}</a>' for c in contents.currencies
    )
    days, page_day = _days(contents), common_default_day(contents.currencies)
    basis = contents.margins.basis
    body = (
        "".join(_currency_section(c, days, page_day, basis) for c in contents.currencies)
        or "<p>The marts hold no payments yet.</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{TITLE}</title>
<style>{STYLE}</style>
{charts.plotly_js()}
</head>
<body>
<h1>{TITLE}</h1>
<p class="meta">{contents.as_of.describe()}.
Snapshot published {when(contents.published_at)}; report generated {when(datetime.now(UTC))}.</p>
<noscript><p>The charts need JavaScript; the tables work without it.</p></noscript>
{_control_bar(contents, days, page_day)}<h2>Headline numbers</h2>
{_headline_table([c.headline for c in contents.currencies])}
<p class="explain">{LTV_NOTE}</p>
{all_currencies_block(contents.margins, len(contents.currencies))}<p>Currencies: {nav}</p>
{body}
{controls.control_script()}
</body>
</html>
"""


def _days(contents: ReportContents) -> list[int]:
    """Every day N of any currency: the day-N control offers each one."""
    return sorted({n for c in contents.currencies for n in c.headline.day_n})


def _control_bar(contents: ReportContents, days: list[int], page_day: int | None) -> str:
    """The bar with every currency, account and day N of the report, starting at the
    currencies' common default day, else at each currency's own."""
    currencies = contents.currencies
    accounts = sorted({a for c in currencies for a in c.accounts()})
    default = "default" if page_day is None else str(page_day)
    return controls.control_bar([c.currency for c in currencies], accounts, days, default)


def _headline_table(headlines: list[Headline]) -> str:
    headers = ["Currency", "Customers", "Gross revenue", "Refunds", "Net revenue"]
    headers += [f"LTV {day} days" for day in HEADLINE_DAYS]
    rows = [
        [
            escape(h.currency),
            count(h.customers),
            money(h.gross_revenue),
            money(h.refunds),
            money(h.net_revenue),
            *(_ltv_cell(h, day) for day in HEADLINE_DAYS),
        ]
        for h in headlines
    ]
    return table(headers, rows, "headline")


def _ltv_cell(headline: Headline, day: int) -> str:
    """LTV at `day`, with why it is missing or how many customers it counts on hover."""
    point = headline.day_n.get(day)
    if point is None:
        return f'<span title="day {day} is not in LTV_DAY_N">not computed</span>'
    if point["ltv"] is None:
        return f'<span title="no customer was acquired {day} days before the data ends">n/a</span>'
    eligible = count(point["eligible_customers"])
    return f'<span title="{eligible} customers eligible">{clocks(point, "ltv")}</span>'


def _currency_section(
    c: CurrencyContents, days: list[int], page_day: int | None, basis: str | None
) -> str:
    """One currency's sections; `days` and `page_day` are the day-N control's choices and
    starting day, which the segment sections follow; `basis` says which costs the margin
    subtracts."""
    cur, section_id = c.currency, slug(c.currency)
    parts = [
        _cohorts(c),
        _day_n(c),
        margin_section(c, basis),
        segment_sections(c, days, page_day),
        acquisition_section(cur, c.acquisition),
        _repeat_purchases(c),
        subscription_sections(cur, c.subscriptions),
        chart_block(
            f"Revenue and refunds by {c.grain}",
            f"Gross revenue (charges and rebills) above the line, refunds below it on the date "
            f"they happened, and net revenue as a line, per {c.grain}, in {escape(cur)}.",
            charts.revenue_chart(c.revenue, c.grain, cur) if c.revenue else None,
            f"{section_id}-revenue",
        ),
        _reconciliation(c),
    ]
    return (
        f'<section class="currency" id="{section_id}" data-currency="{escape(cur, quote=True)}">'
        f"<h2>{escape(cur)}</h2>{''.join(parts)}</section>"
    )


def _cohorts(c: CurrencyContents) -> str:
    return chart_block(
        "Cohort LTV heat map",
        "Cumulative net revenue per customer of each month's new customers (rows), by months "
        "since their first payment (columns); the latest month of each row may still be running.",
        charts.cohort_heatmap(c.cohort_cells, c.currency) if c.cohort_cells else None,
        f"{slug(c.currency)}-cohorts",
    )


def _day_n(c: CurrencyContents) -> str:
    overall = list(c.headline.day_n.values())
    day_n_table = table(
        ["Day N", "Customers", "Eligible customers", "Net revenue", "LTV"],
        [
            [
                str(p["day_n"]),
                count(p["customers"]),
                count(p["eligible_customers"]),
                clocks(p, "net_revenue"),
                clocks(p, "ltv"),
            ]
            for p in overall
        ],
        f"{slug(c.currency)}-day-n",
    )
    figure = (
        charts.day_n_curves(overall, c.cohort_curves, c.currency, c.forecast_cohorts)
        if overall
        else None
    )
    return chart_block(
        "LTV curves by day N",
        "Average net revenue per customer within N days of their first payment, counting only "
        "customers acquired at least N days ago: all customers (thick line) and each monthly "
        "cohort. Dashed: each cohort's predicted LTV at 12 and 24 months (docs/forecast.md). "
        "The table below is the thick line.",
        figure,
        f"{slug(c.currency)}-curves",
    ) + (day_n_table if overall else "")


def _repeat_purchases(c: CurrencyContents) -> str:
    """Repeat rate by cohort (chart), then customers by number of orders and the most common
    product paths (tables). Accounts are named only when the currency has several."""
    several = len({row["account"] for row in c.repeat_cohorts}) > 1
    chart = chart_block(
        "Repeat purchases and product paths",
        "The share of each month's new customers who bought a second order so far (hover: "
        "how many, the median days from the first order to the second, orders per customer). "
        "An order counts once it collected more than zero, refunded or not. Below: customers "
        f"by number of orders, and the {PATH_LIMIT} most common paths from the first product "
        "to the product of the second order, with their share of the first product's buyers.",
        charts.repeat_rate_bars(c.repeat_cohorts) if c.repeat_cohorts else None,
        f"{slug(c.currency)}-repeat-purchases",
    )
    return chart + _order_counts(c, several) + _product_paths(c, several)


def _order_counts(c: CurrencyContents, several: bool) -> str:
    rows = [
        ([escape(r["account"])] if several else [])
        + [count(r["orders_count"]), count(r["customers"]), percent(r["share"])]
        for r in c.order_counts
    ]
    headers = (["Account"] if several else []) + ["Orders", "Customers", "Share of customers"]
    accounts = [r["account"] for r in c.order_counts]
    return table(headers, rows, f"{slug(c.currency)}-order-counts", accounts)


def _product_paths(c: CurrencyContents, several: bool) -> str:
    rows = [
        [
            escape(f"{r['account']}: {r['first_product']}" if several else r["first_product"]),
            escape(r["next_product"]),
            count(r["customers"]),
            f"{percent(r['share_of_first_product_buyers'])} of {count(r['first_product_buyers'])}",
            days(r["median_days_between"]),
        ]
        for r in c.paths
    ]
    headers = ["First product", "Next product", "Customers", "Of its buyers", "Median days"]
    accounts = [r["account"] for r in c.paths]
    return table(headers, rows, f"{slug(c.currency)}-product-paths", accounts)


def _reconciliation(c: CurrencyContents) -> str:
    headers = ["Payment type", "In both", "Amount", "CSV only", "Amount", "Webhook only", "Amount"]
    rows = [
        [
            escape(str(r["payment_type"])),
            *(
                cell
                for source, _, _ in charts.SOURCES
                for cell in (count(r[f"{source}_count"]), money(r[f"{source}_amount"]))
            ),
        ]
        for r in c.reconciliation_totals
    ]
    chart = chart_block(
        "Source reconciliation",
        f"Payments seen in both the CSV exports and the webhook feed, in the exports only, or in "
        f"the webhooks only, per {c.grain}: CSV-only payments after the webhooks were set up "
        "point to missed webhooks, recent webhook-only payments to an out-of-date export.",
        charts.reconciliation_chart(c.reconciliation, c.grain, c.currency)
        if c.reconciliation
        else None,
        f"{slug(c.currency)}-reconciliation",
    )
    return chart + table(headers, rows, f"{slug(c.currency)}-reconciliation-totals")

"""The report's margin parts: margin against revenue by day N in each currency's section, and
the cohorts of every currency in the reporting currency under the headline numbers.

Margin is only as good as the cost files behind it, so each margin figure comes with
mart_metadata's margin basis in words. Margin is on the cash clock only: under the charge
clock the revenue figures change and a note says the margin does not.
"""

from __future__ import annotations

from html import escape

from pipeline.report import charts
from pipeline.report.contents import CurrencyContents
from pipeline.report.formatting import count, money
from pipeline.report.html import chart_block, clock_cell, clocks, slug, table
from pipeline.report.margins import MarginContents

MARGIN_HEADERS = ["Day N", "Eligible customers", "Net revenue", "Margin", "LTV", "Margin LTV"]
COHORT_HEADERS = ["Cohort", "Customers", "Months since acquisition", "LTV", "Margin LTV"]


def basis_sentence(basis: str | None) -> str:
    """Which costs the margin subtracts, from mart_metadata.margin_basis."""
    if basis is None:
        return "These marts do not record which costs the margin subtracts."
    return f"Margin here is {escape(basis)} (docs/costs.md)."


def margin_section(c: CurrencyContents, basis: str | None) -> str:
    """LTV and margin LTV of all customers of `c` by day N: a chart and a table."""
    overall = list(c.headline.day_n.values())
    cash_only = clock_cell(
        "", " Margin stays on the cash clock: the charge clock moves the revenue figures only."
    )
    explanation = (
        "Net revenue and margin per customer within N days of their first payment, counting "
        f"only customers acquired at least N days ago. {basis_sentence(basis)}{cash_only}"
    )
    figure = charts.margin_curves(overall, c.currency) if overall else None
    block = chart_block("Margin against revenue", explanation, figure, f"{slug(c.currency)}-margin")
    if not overall:
        return block
    rows = [
        [
            str(p["day_n"]),
            count(p["eligible_customers"]),
            clocks(p, "net_revenue"),
            money(p["net_margin"]),
            clocks(p, "ltv"),
            money(p["margin_ltv"]),
        ]
        for p in overall
    ]
    return block + table(MARGIN_HEADERS, rows, f"{slug(c.currency)}-margin-day-n")


def all_currencies_block(m: MarginContents, currencies: int) -> str:
    """Every currency's cohorts in the reporting currency; without one, a line saying how to
    get it when the report has several currencies, else nothing."""
    code = m.reporting_currency
    if code is None:
        if currencies < 2:
            return ""
        return (
            '<p class="explain">To see every currency in one, set LTV_REPORTING_CURRENCY '
            "(e.g. USD) and drop exchange rates into landing/fx_rates/ (docs/costs.md).</p>\n"
        )
    rows = [
        [
            f"{r['cohort_month']:%Y-%m}",
            count(r["cohort_customers"]),
            f"{r['months_since_acquisition']}" + ("" if r["is_complete"] else " (to date)"),
            money(r["ltv_per_customer"]),
            money(r["margin_ltv_per_customer"]),
        ]
        for r in m.converted_cohorts
    ]
    return (
        f"<h3>All currencies in {escape(code)}</h3>\n"
        f'<p class="explain">Each month\'s new customers in every currency together, each '
        f"payment converted to {escape(code)} at the exchange rate of its day "
        "(LTV_REPORTING_CURRENCY): LTV and margin LTV per customer at the latest month of each "
        "cohort. A customer who paid in two currencies counts once in each. "
        f"{basis_sentence(m.basis)}</p>\n{_not_converted(m.payments_not_converted)}"
        + table(COHORT_HEADERS, rows, "all-currencies")
    )


def _not_converted(payments: int | None) -> str:
    if not payments:
        return ""
    noun = "payment" if payments == 1 else "payments"
    return (
        f'<p class="explain">Left out of these figures: {count(payments)} {noun} without an '
        "exchange rate on or before the day paid (add rates to landing/fx_rates/).</p>\n"
    )

"""The report's "CAC and payback by channel" section of one currency: per channel what its new
customers cost and how often their margin paid it back, then every channel's recent months.

One block per account (named when the currency has several), as the subscription sections. A
currency without any ad spend gets one sentence saying where the spend files go instead of a
table of CACs that cannot be computed.
"""

from __future__ import annotations

from html import escape

from pipeline.report.acquisition import AcquisitionContents
from pipeline.report.formatting import count, money, months, ratio
from pipeline.report.html import SectionText, account_section, slug, table
from pipeline.report.queries import Row
from pipeline.report.subscriptions import REPORT_MONTHS

CHANNEL_HEADERS = [
    "Channel",
    "Spend",
    "New customers",
    "CAC",
    "Margin LTV to date",
    "Margin LTV : CAC",
    "Months paid back",
    "Median payback month",
]
MONTH_HEADERS = [
    "Acquisition month",
    "Spend",
    "New customers",
    "CAC",
    "Margin LTV to date",
    "Margin LTV : CAC",
    "Payback month",
]


def acquisition_section(currency: str, a: AcquisitionContents) -> str:
    """The section of `currency`: a channel table and a month table per account."""
    cur = escape(currency)
    intro = (
        f"What a new customer cost in {cur} (CAC: the ad spend dated in their acquisition "
        "month ÷ the customers acquired through the channel, its utm_source) against the "
        "margin they have brought so far. Each channel adds up all its months; of its months "
        "with spend, how many paid back (the cumulative margin reached the spend) and the "
        "median month since acquisition by whose end they did (0: the acquisition month). "
        f"Below: every channel together over the last {REPORT_MONTHS} acquisition months."
    )
    empty = (
        f"No ad spend in {cur} yet, so no CAC or payback. Drop daily ad spend (a plain file, "
        "or Meta Ads Manager and Google Ads daily campaign reports) into landing/ad_spend/ "
        "(docs/costs.md)."
    )
    several = len(a.accounts()) > 1

    def block(account: str, channels: list[Row]) -> str:
        mine = [m for m in a.months if m["account"] == account]
        return _channel_table(currency, account, channels) + _month_table(currency, account, mine)

    texts = SectionText(
        "CAC and payback by channel", intro, empty, "acquired customers or ad spend"
    )
    return account_section(currency, texts, a.channels if a.has_spend() else [], several, block)


def _channel_table(currency: str, account: str, channels: list[Row]) -> str:
    rows = [
        [
            escape(str(r["channel"])),
            money(r["spend"]),
            count(r["new_customers"]),
            money(r["cac"]),
            money(r["margin_ltv_to_date"]),
            ratio(r["margin_ltv_to_cac"]),
            *_paid_back(r),
        ]
        for r in channels
    ]
    return table(CHANNEL_HEADERS, rows, f"{slug(currency)}-{slug(account)}-cac-channels")


def _paid_back(channel: Row) -> list[str]:
    """How many of the channel's months with spend paid back, and their median payback month
    ('not yet' while none has)."""
    spent = channel["months_with_spend"]
    if not spent:
        return ["no spend", "n/a"]
    paid = channel["months_paid_back"]
    median = months(channel["median_payback_month"]) if paid else "not yet"
    return [f"{paid} of {spent}", median]


def _month_table(currency: str, account: str, rows: list[Row]) -> str:
    if not rows:
        return f"<p>No customer or spend in the last {REPORT_MONTHS} months.</p>\n"
    cells = [
        [
            f"{r['cohort_month']:%Y-%m}",
            money(r["spend"]),
            count(r["new_customers"]),
            money(r["cac"]),
            money(r["margin_ltv_to_date"]),
            ratio(r["margin_ltv_to_cac"]),
            _payback_month(r),
        ]
        for r in rows
    ]
    return table(MONTH_HEADERS, cells, f"{slug(currency)}-{slug(account)}-cac-months")


def _payback_month(month: Row) -> str:
    """The month since acquisition the spend was paid back in, or why there is none."""
    if month["payback_months"] is not None:
        return str(month["payback_months"])
    if not month["spend"]:
        return "no spend"
    return "not yet" if month["new_customers"] else "no customers"

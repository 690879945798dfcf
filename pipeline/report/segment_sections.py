"""The report's LTV-by-segment sections of one currency (first product, campaign, traffic source,
UTM campaign), one block per day N of the control bar.

Every block is rendered up front and the day-N control (`controls`) shows one day's: so each
currency has a block for every day the bar offers, and a day the currency's marts lack says so
instead of leaving its sections blank. The block shown first is the one the bar shows chosen,
so the page without JavaScript and the page before any change agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from pipeline.report import charts
from pipeline.report.contents import CurrencyContents
from pipeline.report.formatting import count
from pipeline.report.html import clocks, slug, table
from pipeline.report.queries import SEGMENT_LIMIT, Row

# (segment type in ltv_day_n, section title, what groups the customers), in the page's order.
SEGMENT_SECTIONS = (
    ("first_product", "LTV by first product", "the product they first bought"),
    ("campaign", "LTV by campaign", "the campaign that acquired them"),
    (
        "utm_source",
        "LTV by traffic source",
        "the utm_source of the order that acquired them ('(not tracked)': acquired before "
        "UTM tracking, see docs/utm-tracking.md; '(none)': tracked, no UTM)",
    ),
    ("utm_campaign", "LTV by UTM campaign", "the utm_campaign of the order that acquired them"),
)
# The day-N value of the block a currency shows under "each currency's default" when nobody
# is eligible at any of its days.
NO_DAY = "none"


def common_default_day(currencies: Sequence[CurrencyContents]) -> int | None:
    """The day N the bar starts at: the default day of every currency that has one, when they
    agree; None when they differ (or no currency has one), and the bar starts at "default"."""
    defaults = {c.segment_day for c in currencies if c.segment_day is not None}
    return next(iter(defaults)) if len(defaults) == 1 else None


def segment_sections(c: CurrencyContents, days: Sequence[int], page_day: int | None) -> str:
    """The four segment sections of `c`: a block per day of `days` (the bar's), the one at
    the currency's default day shown, else at `page_day`, the bar's starting day."""
    shown = c.segment_day if c.segment_day is not None else page_day
    return "".join(
        _section(c, segment_type, title, grouping, days, shown)
        for segment_type, title, grouping in SEGMENT_SECTIONS
    )


def _section(
    c: CurrencyContents,
    segment_type: str,
    title: str,
    grouping: str,
    days: Sequence[int],
    shown: int | None,
) -> str:
    head = f"<h3>{escape(title)}</h3>\n"
    by_day = c.segments_by_day[segment_type]
    if not by_day:
        return head + "<p>No data yet.</p>\n"
    blocks = [
        _segments_at(c, by_day[day], day, title, grouping, day == shown)
        if day in by_day
        else _not_computed(c, day, day == shown)
        for day in days
    ]
    if shown is None:
        explanation = "No customer was acquired long enough ago to compare groups at a day N yet."
        blocks.insert(0, _block(NO_DAY, True, explanation, ""))
    return head + "".join(blocks)


def _segments_at(
    c: CurrencyContents, segments: list[Row], day: int, title: str, grouping: str, shown: bool
) -> str:
    """The chart and table of one day N (a sentence when no group is old enough yet)."""
    block_id = f"{slug(c.currency)}-{slug(title)}-day-{day}"
    if not segments:
        explanation = f"No group has a customer acquired at least {day} days ago yet."
        return _block(str(day), shown, explanation, "")
    explanation = (
        f"LTV at day {day} of customers grouped by {grouping}; n counts the customers "
        f"acquired at least {day} days ago (at most the {SEGMENT_LIMIT} largest groups)."
    )
    body = charts.figure_html(charts.segment_bars(segments, c.currency), block_id) + table(
        ["Group", "Customers", "Eligible customers", "Net revenue", "LTV"],
        [
            [
                escape(str(s["label"])),
                count(s["customers"]),
                count(s["eligible_customers"]),
                clocks(s, "net_revenue"),
                clocks(s, "ltv"),
            ]
            for s in segments
        ],
        f"{block_id}-table",
    )
    return _block(str(day), shown, explanation, body)


def _not_computed(c: CurrencyContents, day: int, shown: bool) -> str:
    """A day the bar offers (another currency has it) that this currency's marts lack."""
    explanation = f"Day {day} is not computed for {escape(c.currency)} (see LTV_DAY_N)."
    return _block(str(day), shown, explanation, "")


def _block(day: str, shown: bool, explanation: str, body: str) -> str:
    """One day's block: `data-day-n` for the control, `data-default-day` on the one each
    currency shows by default, `hidden` on the others."""
    attributes = f' data-day-n="{day}"' + (" data-default-day" if shown else " hidden")
    return f'<div class="day-n"{attributes}>\n<p class="explain">{explanation}</p>\n{body}</div>\n'

"""The HTML LTV report: one offline file whose numbers are the marts' numbers."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from plotly.offline import get_plotlyjs
from test_report_fixture import EUR_SEGMENTS_AT_DAY_30, build_fixture_marts

from pipeline.cli import main
from pipeline.report import charts, queries, subscription_charts
from pipeline.report.build import write_report
from pipeline.report.contents import CurrencyContents, collect
from pipeline.report.marts import ReportError, open_marts
from pipeline.settings import Settings

SUBSCRIPTION_MARTS = (
    "mrr_monthly",
    "subscription_retention_cohorts",
    "failed_payment_recovery",
    "split_pay_plans",
)
SECTIONS = [
    "Cohort LTV heat map",
    "LTV curves by day N",
    "Margin against revenue",
    "LTV by first product",
    "LTV by campaign",
    "LTV by traffic source",
    "LTV by UTM campaign",
    "CAC and payback by channel",
    "Repeat purchases and product paths",
    "MRR movements",
    "Subscription retention",
    "Failed payments and split pay",
    "Revenue and refunds by {grain}",
    "Source reconciliation",
]


class Page(HTMLParser):
    """What the tests read from the report: external references, headings, tables by id.

    `tables` is what a reader sees without JavaScript (the cash clock's numbers),
    `charge_tables` the same tables on the charge clock; `hidden` holds the ids of tables
    hidden until a control shows them, `row_accounts` each table's rows' `data-account`.
    """

    def __init__(self, html: str) -> None:
        super().__init__()
        self.external: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.charge_tables: dict[str, list[list[str]]] = {}
        self.hidden: set[str] = set()
        self.row_accounts: dict[str, list[str | None]] = {}
        self._heading: str | None = None
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._charge_cell: list[str] | None = None
        self._divs: list[bool] = []  # whether each open <div> is hidden
        self._clock: str | None = None  # inside a clock-cash / clock-charge span
        self._text = ""
        self._charge_text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if tag in ("script", "link", "img", "iframe") and values.get(name):
                self.external.append(f"{tag} {name}={values[name]}")
        if tag == "div":
            self._divs.append("hidden" in values)
        elif tag == "span" and (values.get("class") or "").startswith("clock-"):
            self._clock = values["class"]
        if tag in ("h2", "h3"):
            self._heading, self._text = tag, ""
        elif tag == "table":
            self._table = values.get("id") or ""
            self.tables[self._table] = []
            self.charge_tables[self._table] = []
            self.row_accounts[self._table] = []
            if any(self._divs):
                self.hidden.add(self._table)
        elif tag == "tr" and self._table is not None:
            self._cell, self._charge_cell = [], []
            self._account = values.get("data-account")
        elif tag == "td":
            self._text = self._charge_text = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._divs:
            self._divs.pop()
        elif tag == "span":
            self._clock = None
        if tag == self._heading:
            self.headings.append((tag, self._text.strip()))
            self._heading = None
        elif tag == "td" and self._cell is not None:
            self._cell.append(self._text.strip())
            self._charge_cell.append(self._charge_text.strip())
        elif tag == "tr" and self._cell:
            self.tables[self._table].append(self._cell)
            self.charge_tables[self._table].append(self._charge_cell)
            self.row_accounts[self._table].append(self._account)
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._clock != "clock-charge":
            self._text += data
        if self._clock != "clock-cash":
            self._charge_text += data


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A published snapshot of the fixture marts (marts in schema main, as publish writes)."""
    root = tmp_path_factory.mktemp("report")
    return Settings(
        landing_dir=root / "landing",
        warehouse=root / "ltv.duckdb",
        marts_snapshot=build_fixture_marts(
            root / "warehouse" / "marts.duckdb", "main", metadata=True
        ),
        dagster_home=root / "dagster",
    )


@pytest.fixture(scope="module")
def html(settings: Settings) -> str:
    result = write_report(settings)
    assert result.path == settings.marts_snapshot.parent / "ltv_report.html"
    assert result.currencies == ["EUR", "USD"]
    assert result.size_bytes == result.path.stat().st_size
    return result.path.read_text(encoding="utf-8")


def test_report_is_one_offline_file_with_every_section(html: str) -> None:
    page = Page(html)
    assert page.external == []  # no script, stylesheet or image is fetched from anywhere
    assert html.count(get_plotlyjs()) == 1
    h2 = [text for tag, text in page.headings if tag == "h2"]
    assert h2 == ["Headline numbers", "EUR", "USD"]
    h3 = [text for tag, text in page.headings if tag == "h3"]
    eur = [s.format(grain="week") for s in SECTIONS]
    usd = [s.format(grain="month") for s in SECTIONS]
    assert h3 == ["All currencies in USD", *eur, *usd]
    # One line per section, but one per day N of the control bar (7, EUR's marts have 4 of
    # them) for the 4 segment sections of both currencies, and one for LTV.
    assert html.count('class="explain"') == len(h3) - 2 * 4 + 2 * 4 * 7 + 1
    # Segment charts only at days N with groups (EUR: 90; USD: first product at 30 and 90,
    # the rest at 90); no MRR, retention or failed-payment chart for EUR (no subscriptions);
    # CAC and all currencies are tables only.
    assert html.count("Plotly.newPlot(") == (len(h3) - 8) + 4 + 5 - 3 - 2 - 1


def test_headline_numbers_are_the_marts_numbers(html: str) -> None:
    page = Page(html)
    assert page.tables["headline"] == [
        ["EUR", "1", "300.00", "0.00", "300.00", "300.00", "300.00", "n/a"],
        ["USD", "3", "470.00", "20.00", "450.00", "150.00", "165.00", "n/a"],
    ]
    assert "Data as of 2025-06-30 10:00 UTC (the latest event from any source)." in html
    assert page.tables["usd-day-n"] == [
        ["0", "3", "3", "380.00", "126.67"],
        ["7", "3", "3", "380.00", "126.67"],
        ["30", "3", "2", "300.00", "150.00"],
        ["60", "3", "2", "330.00", "165.00"],
        ["90", "3", "2", "330.00", "165.00"],
        ["180", "3", "0", "0.00", "n/a"],
        ["365", "3", "0", "0.00", "n/a"],
    ]
    assert page.tables["usd-reconciliation-totals"] == [
        ["charge", "2", "180.00", "1", "200.00", "1", "50.00"],
        ["rebill", "0", "0.00", "0", "0.00", "1", "40.00"],
        ["refund", "0", "0.00", "1", "-20.00", "0", "0.00"],
    ]


@pytest.fixture(scope="module")
def usd(settings: Settings) -> CurrencyContents:
    with open_marts(settings.marts_snapshot) as con:
        contents = collect(con, datetime(2025, 7, 1))
    return next(c for c in contents.currencies if c.currency == "USD")


def test_charts_plot_the_mart_rows(usd: CurrencyContents) -> None:
    heatmap = charts.cohort_heatmap(usd.cohort_cells, "USD").data[0]
    assert list(heatmap.y) == ["2025-01", "2025-06"]
    assert [list(map(float_or_none, row)) for row in heatmap.z] == [
        [150, 165, 165, 165, 165, 165],
        [120, None, None, None, None, None],
    ]
    curves = charts.day_n_curves(list(usd.headline.day_n.values()), usd.cohort_curves, "USD")
    overall = next(trace for trace in curves.data if trace.name == "All customers")
    assert list(overall.x) == [0, 7, 30, 60, 90]  # days nobody is eligible at are left out
    assert list(map(float, overall.y)) == [126.67, 126.67, 150, 165, 165]
    assert sorted((trace.meta["clock"], trace.name) for trace in curves.data) == [
        (clock, name)
        for clock in ("cash", "charge")
        for name in ("All customers", "Cohort 2025-01", "Cohort 2025-06")
    ]
    bars = charts.segment_bars(usd.products, "USD").data[0]
    assert list(bars.y) == ["Mentoring (P2)", "Course (P1)"]  # highest LTV first
    assert list(map(float, bars.x)) == [200, 130]
    assert [s["label"] for s in usd.campaigns] == ["(none)", "spring"]
    # Carol, the one tracked USD customer (facebook), is not 90 days old: no group of hers yet.
    assert [(s["label"], s["ltv"]) for s in usd.sources] == [("(not tracked)", 165)]
    assert [s["label"] for s in usd.utm_campaigns] == ["(not tracked)"]


def test_cohort_and_day_n_charts_draw_both_refund_clocks_the_cash_one_shown(
    usd: CurrencyContents,
) -> None:
    """Alice's refund (day 36) lowers her cohort's month 1 and day 60 on the cash clock, and
    month 0 and every day N on the charge clock (the date of her charge)."""
    heatmaps = charts.cohort_heatmap(usd.cohort_cells, "USD").data
    assert [(t.meta, t.visible) for t in heatmaps] == [
        ({"clock": "cash"}, True),
        ({"clock": "charge"}, False),
    ]
    assert [list(map(float_or_none, row)) for row in heatmaps[1].z] == [
        [140, 165, 165, 165, 165, 165],
        [120, None, None, None, None, None],
    ]
    curves = charts.day_n_curves(list(usd.headline.day_n.values()), usd.cohort_curves, "USD")
    charge = next(
        t for t in curves.data if t.name == "All customers" and t.meta["clock"] == "charge"
    )
    assert charge.visible is False
    assert list(map(float, charge.y)) == [120, 120, 140, 165, 165]
    bars = charts.segment_bars(usd.segments_by_day["first_product"][30], "USD").data
    assert [(t.meta["clock"], list(t.y), list(map(float, t.x))) for t in bars] == [
        ("cash", ["Mentoring (P2)", "Course (P1)"], [200, 100]),
        ("charge", ["Mentoring (P2)", "Course (P1)"], [200, 80]),
    ]


def test_tables_carry_both_clocks_the_charge_clock_hidden(html: str) -> None:
    page = Page(html)
    assert page.charge_tables["headline"] == [
        ["EUR", "1", "300.00", "0.00", "300.00", "300.00", "300.00", "n/a"],
        ["USD", "3", "470.00", "20.00", "450.00", "140.00", "165.00", "n/a"],
    ]
    assert page.charge_tables["usd-day-n"][:3] == [
        ["0", "3", "3", "360.00", "120.00"],
        ["7", "3", "3", "360.00", "120.00"],
        ["30", "3", "2", "280.00", "140.00"],
    ]
    # The stylesheet hides the charge clock until the clock control sets data-clock="charge".
    assert ".clock-charge { display: none; }" in html
    assert 'body[data-clock="charge"] .clock-charge { display: inline; }' in html


def test_segment_tables_exist_for_every_day_n_the_default_day_shown(html: str) -> None:
    """Tables at every day N of the currency; only the default day (90) shows before the
    day-N control picks another."""
    page = Page(html)
    day_30, day_90 = (
        "usd-ltv-by-first-product-day-30-table",
        "usd-ltv-by-first-product-day-90-table",
    )
    assert page.tables[day_90] == [
        ["Mentoring (P2)", "1", "1", "200.00", "200.00"],
        ["Course (P1)", "2", "1", "130.00", "130.00"],
    ]
    assert page.tables[day_30] == [
        ["Mentoring (P2)", "1", "1", "200.00", "200.00"],
        ["Course (P1)", "2", "1", "100.00", "100.00"],
    ]
    assert page.charge_tables[day_30][1] == ["Course (P1)", "2", "1", "80.00", "80.00"]
    assert day_30 in page.hidden and day_90 not in page.hidden
    assert page.tables["usd-ltv-by-traffic-source-day-90-table"] == [
        ["(not tracked)", "2", "2", "330.00", "165.00"]
    ]
    for day in (0, 7, 60, 180, 365):
        assert f'data-day-n="{day}" hidden>' in html
    assert html.count("data-default-day>") == 2 * 4  # day 90 of 4 segment types, 2 currencies
    assert "No group has a customer acquired at least 365 days ago yet." in html
    # Days the bar offers that EUR's marts lack say so (4 segment sections each), hidden.
    assert _day_blocks(html, "eur") == [
        ("0", False, "No group has a customer acquired at least 0 days ago yet."),
        ("7", False, "Day 7 is not computed for EUR (see LTV_DAY_N)."),
        ("30", False, "No group has a customer acquired at least 30 days ago yet."),
        ("60", False, "Day 60 is not computed for EUR (see LTV_DAY_N)."),
        ("90", True, _grouped_by_first_product(90)),
        ("180", False, "Day 180 is not computed for EUR (see LTV_DAY_N)."),
        ("365", False, "No group has a customer acquired at least 365 days ago yet."),
    ]
    for day in (7, 60, 180):
        assert html.count(f"Day {day} is not computed for EUR (see LTV_DAY_N).") == 4
    assert "is not computed for USD" not in html


def _grouped_by_first_product(day: int) -> str:
    return (
        f"LTV at day {day} of customers grouped by the product they first bought; n counts the "
        f"customers acquired at least {day} days ago (at most the 25 largest groups)."
    )


def _day_blocks(html: str, currency: str) -> list[tuple[str, bool, str]]:
    """The day-N blocks of a currency's "LTV by first product": (day, shown, first line)."""
    section = html.split(f'<section class="currency" id="{currency}"')[1].split("</section>")[0]
    part = section.split("<h3>LTV by first product</h3>")[1].split("<h3>")[0]
    found = re.findall(
        r'<div class="day-n" data-day-n="([^"]+)"( data-default-day| hidden)>\n'
        r'<p class="explain">([^<]*)</p>',
        part,
    )
    return [(day, attribute == " data-default-day", text) for day, attribute, text in found]


def test_currencies_with_different_default_days_start_the_bar_at_each_ones_own(
    tmp_path: Path, settings: Settings
) -> None:
    """EUR compares its segments at day 30, USD at 90: the bar starts at "each currency's
    default" and each section shows its own day; EUR lacks day 90 and says so there."""
    snapshot = build_fixture_marts(tmp_path / "marts.duckdb", "main")
    with duckdb.connect(str(snapshot)) as con:
        con.execute(EUR_SEGMENTS_AT_DAY_30)
    html = write_report(replace(settings, marts_snapshot=snapshot)).path.read_text()
    days = ["0", "7", "30", "60", "90", "180", "365"]
    assert _options(html, "day-n") == [("default", True), *((d, False) for d in days)]
    shown = {(day, text) for day, visible, text in _day_blocks(html, "eur") if visible}
    assert shown == {("30", _grouped_by_first_product(30))}
    assert ("90", False, "Day 90 is not computed for EUR (see LTV_DAY_N).") in _day_blocks(
        html, "eur"
    )
    assert [day for day, visible, _ in _day_blocks(html, "usd") if visible] == ["90"]
    page = Page(html)
    assert page.tables["eur-ltv-by-first-product-day-30-table"] == [
        ["Buch (P3)", "1", "1", "300.00", "300.00"]
    ]
    assert "eur-ltv-by-first-product-day-30-table" not in page.hidden
    assert "usd-ltv-by-first-product-day-30-table" in page.hidden


@pytest.mark.parametrize(
    ("currencies", "bar_starts_at", "eur_shows"),
    [
        # USD still compares at day 90: the bar starts there and EUR shows its empty day 90.
        (["EUR"], "90", ("90", "No group has a customer acquired at least 90 days ago yet.")),
        # Nobody anywhere: each currency's default, one sentence for the section.
        (
            ["EUR", "USD"],
            "default",
            ("none", "No customer was acquired long enough ago to compare groups at a day N yet."),
        ),
    ],
)
def test_a_currency_nobody_is_eligible_in_yet_shows_the_bars_starting_day(
    tmp_path: Path,
    settings: Settings,
    currencies: list[str],
    bar_starts_at: str,
    eur_shows: tuple[str, str],
) -> None:
    """Without a default day of its own a currency shows what the bar starts at, so the page
    reads the same before any change and without JavaScript."""
    snapshot = build_fixture_marts(tmp_path / "marts.duckdb", "main")
    with duckdb.connect(str(snapshot)) as con:
        con.execute(
            """UPDATE ltv_day_n SET eligible_customers = 0, net_revenue = 0, ltv = NULL,
                   net_revenue_charge_clock = 0, ltv_charge_clock = NULL
               WHERE list_contains(?, currency)""",
            [currencies],
        )
    html = write_report(replace(settings, marts_snapshot=snapshot)).path.read_text()
    assert [value for value, selected in _options(html, "day-n") if selected] == [bar_starts_at]
    assert [(day, text) for day, shown, text in _day_blocks(html, "eur") if shown] == [eur_shows]


def _options(html: str, control: str) -> list[tuple[str, bool]]:
    """A control's options: (value, selected)."""
    select = re.search(rf'<select id="control-{control}"[^>]*>(.*?)</select>', html).group(1)
    return [(v, bool(sel)) for v, sel in re.findall(r'<option value="([^"]*)"( selected)?', select)]


def test_control_bar_offers_every_currency_account_day_and_clock(html: str) -> None:
    """Hidden until its script runs (so without JavaScript nothing pretends to switch); the
    defaults are what the page shows without it."""
    assert '<div id="controls" hidden>' in html
    assert _options(html, "currency") == [("all", True), ("EUR", False), ("USD", False)]
    assert _options(html, "account") == [("all", True), ("shop", False)]
    days = [("0", False), ("7", False), ("30", False), ("60", False), ("90", True)]
    assert _options(html, "day-n") == [*days, ("180", False), ("365", False)]
    assert _options(html, "clock") == [("cash", True), ("charge", False)]
    assert 'bar.addEventListener("change", apply);' in html
    assert '<section class="currency" id="usd" data-currency="USD">' in html


def test_mrr_movements_of_the_last_months(html: str, usd: CurrencyContents) -> None:
    """Alice (S1 quarterly, then S3) and bob (S4) start in January, bob cancels in February
    while alice expands, alice's S3 and then S1 end delinquent; carol starts in June."""
    page = Page(html)
    zero_month = ["0.00"] * 8 + ["0"]
    assert page.tables["usd-shop-mrr"] == [
        ["2025-01", "0.00", "233.33", "0.00", "0.00", "0.00", "0.00", "0.00", "233.33", "2"],
        ["2025-02", "233.33", "0.00", "50.00", "0.00", "0.00", "-200.00", "0.00", "83.33", "1"],
        ["2025-03", "83.33", "0.00", "0.00", "0.00", "-50.00", "0.00", "0.00", "33.33", "1"],
        ["2025-04", "33.33", "0.00", "0.00", "0.00", "0.00", "0.00", "-33.33", "0.00", "0"],
        ["2025-05", *zero_month],
        ["2025-06 (incomplete)", "0.00", "40.00", *["0.00"] * 5, "40.00", "1"],
    ]
    waterfall = subscription_charts.mrr_waterfall(usd.subscriptions.mrr, "USD").data[0]
    assert waterfall.type == "waterfall"
    assert list(waterfall.x) == [
        "Opening 2025-01",
        "New",
        "Expansion",
        "Reactivation",
        "Contraction",
        "Churned (voluntary)",
        "Churned (delinquent)",
        "Closing 2025-06 (to date)",
    ]
    assert list(map(float, waterfall.y)) == [0, 273.33, 50, 0, -50, -200, -33.33, 40]
    assert list(waterfall.measure) == ["absolute", *["relative"] * 6, "total"]
    assert 'id="usd-shop-mrr-waterfall"' in html


def test_subscription_retention_and_payment_health(html: str, usd: CurrencyContents) -> None:
    page = Page(html)
    assert page.tables["usd-shop-retention"] == [
        ["2025-01", "2", "233.33", "100.0%", "35.7%", "14.3%", "0.0%", "0.0%", "0.0% (to date)"],
        ["2025-06", "1", "80.00", "50.0% (to date)", "", "", "", "", ""],
    ]
    heatmap = subscription_charts.retention_heatmap(usd.subscriptions.retention).data[0]
    assert list(heatmap.y) == ["2025-01", "2025-06"]
    assert [list(map(float_or_none, row)) for row in heatmap.z] == [
        [1, 0.5, 0.5, 0, 0, 0],
        [1, None, None, None, None, None],
    ]
    assert page.tables["usd-shop-failed-payments"] == [
        ["2025-03", "recurring", "1", "0", "1", "0", "0.0%", "0.00"],
        ["2025-04", "recurring", "1", "0", "1", "0", "0.0%", "0.00"],
        ["2025-06", "recurring", "1", "1", "0", "0", "100.0%", "40.00"],
    ]
    recovery = subscription_charts.recovery_bars(usd.subscriptions.failed)
    assert {t.name: list(t.y) for t in recovery.data} == {
        "Recovered": [0, 0, 1],
        "Not recovered": [1, 1, 0],
        "Pending": [0, 0, 0],
    }
    assert recovery.layout.yaxis.dtick == 1  # whole rebills, not 0.2 steps
    # Dave's split pay is EUR's only subscription: no MRR, no retention, no failed rebill.
    assert page.tables["eur-shop-split-pay"] == [
        ["Buch (P3)", "2025-02", "1", "0", "0", "1", "n/a", "1", "2", "600.00", "0"]
    ]
    assert "No recurring subscriptions in EUR, so no MRR to show." in html
    assert "No subscriber started a recurring plan in EUR in the last 12 months." in html
    assert "No failed rebills in the last 12 months." in html
    assert "No split-pay plans." in html  # USD
    assert "usd-shop-split-pay" not in page.tables and "eur-shop-mrr" not in page.tables


def test_subscription_sections_show_the_last_12_months(tmp_path: Path, settings: Settings) -> None:
    """A month a year before as_of's month is history: out of the MRR table and the waterfall's
    opening, like a failed rebill and a start month then."""
    snapshot = build_fixture_marts(tmp_path / "marts.duckdb", "main")
    with duckdb.connect(str(snapshot)) as con:
        con.execute(
            """INSERT INTO mrr_monthly SELECT * REPLACE (DATE '2024-06-01' AS month)
               FROM mrr_monthly WHERE month = '2025-05-01';
               INSERT INTO failed_payment_recovery SELECT * REPLACE (DATE '2024-06-01'
                   AS failure_month) FROM failed_payment_recovery
               WHERE failure_month = '2025-06-01';
               INSERT INTO subscription_retention_cohorts SELECT * REPLACE (DATE '2024-06-01'
                   AS start_month) FROM subscription_retention_cohorts
               WHERE start_month = '2025-06-01'"""
        )
    page = Page(write_report(replace(settings, marts_snapshot=snapshot)).path.read_text())
    assert [row[0] for row in page.tables["usd-shop-mrr"]][:1] == ["2025-01"]
    assert [row[0] for row in page.tables["usd-shop-failed-payments"]] == [
        "2025-03",
        "2025-04",
        "2025-06",
    ]
    assert [row[0] for row in page.tables["usd-shop-retention"]] == ["2025-01", "2025-06"]


def test_a_seller_without_subscriptions_gets_one_sentence_per_section(
    tmp_path: Path, settings: Settings
) -> None:
    snapshot = build_fixture_marts(tmp_path / "marts.duckdb", "main")
    with duckdb.connect(str(snapshot)) as con:
        for mart in SUBSCRIPTION_MARTS:
            con.execute(f"DELETE FROM {mart}")
    html = write_report(replace(settings, marts_snapshot=snapshot)).path.read_text()
    for currency in ("EUR", "USD"):
        assert f"No recurring subscriptions in {currency}, so no MRR to show." in html
        assert (
            f"No subscriber started a recurring plan in {currency} in the last 12 months." in html
        )
        assert (
            f"No failed rebills in the last 12 months and no split-pay plans in {currency}." in html
        )
    assert html.count('class="empty"') == 6
    # No account note in a section without rows: only CAC's, which has rows, has one.
    assert re.findall(r'class="account-none" id="([^"]+)"', html) == [
        "eur-cac-and-payback-by-channel-account-none",
        "usd-cac-and-payback-by-channel-account-none",
    ]
    assert '-mrr-waterfall"' not in html and 'data-account="shop"><h4>' not in html


def test_subscription_sections_name_the_account_when_a_currency_has_several(
    tmp_path: Path, settings: Settings
) -> None:
    """Carol's recovered rebill moved to a second account: each account gets its own block,
    named, and the account control offers both."""
    snapshot = build_fixture_marts(tmp_path / "marts.duckdb", "main")
    with duckdb.connect(str(snapshot)) as con:
        con.execute(
            "UPDATE failed_payment_recovery SET account = 'outlet' "
            "WHERE failure_month = '2025-06-01'"
        )
    html = write_report(replace(settings, marts_snapshot=snapshot)).path.read_text()
    page = Page(html)
    assert page.tables["usd-outlet-failed-payments"] == [
        ["2025-06", "recurring", "1", "1", "0", "0", "100.0%", "40.00"]
    ]
    assert len(page.tables["usd-shop-failed-payments"]) == 2
    assert '<div class="account" data-account="outlet">\n<h4>outlet</h4>' in html
    assert '<div class="account" data-account="shop">\n<h4>shop</h4>' in html
    assert _options(html, "account") == [("all", True), ("outlet", False), ("shop", False)]
    assert page.row_accounts["usd-order-counts"] == ["shop", "shop"]
    # Each section with accounts has a note for an account it has nothing of, hidden until
    # the account control hides all its blocks.
    notes = re.findall(r'<p class="account-none" id="([^"]+)" hidden>([^<]*)</p>', html)
    assert notes == [
        ("eur-cac-and-payback-by-channel-account-none", _none("acquired customers", "EUR")),
        ("eur-failed-payments-and-split-pay-account-none", _none("failed rebills", "EUR")),
        ("usd-cac-and-payback-by-channel-account-none", _none("acquired customers", "USD")),
        ("usd-mrr-movements-account-none", _none("recurring subscriptions", "USD")),
        ("usd-subscription-retention-account-none", _none("subscriber who", "USD")),
        ("usd-failed-payments-and-split-pay-account-none", _none("failed rebills", "USD")),
    ]


def _none(lacking: str, currency: str) -> str:
    """The account note's sentence, by its first words after "has no"."""
    return {
        "failed rebills": "The chosen account has no failed rebills in the last 12 months and "
        f"no split-pay plans in {currency}.",
        "recurring subscriptions": "The chosen account has no recurring subscriptions in "
        f"{currency}.",
        "subscriber who": "The chosen account has no subscriber who started a recurring plan "
        f"in the last 12 months in {currency}.",
        "acquired customers": "The chosen account has no acquired customers or ad spend in "
        f"{currency}.",
    }[lacking]


def test_repeat_purchases_show_the_cohorts_order_counts_and_paths(
    html: str, usd: CurrencyContents
) -> None:
    """Alice came back for Mentoring 31 days after the Course; bob and carol did not."""
    bars = charts.repeat_rate_bars(usd.repeat_cohorts).data
    assert [(trace.name, list(trace.x), list(map(float, trace.y))) for trace in bars] == [
        ("shop", ["2025-01", "2025-06"], [0.5, 0.0])
    ]
    assert bars[0].customdata[0] == (
        "1 of 2 customers, median 31.0 days to the second order, 1.50 orders per customer"
    )
    assert "n/a days" in bars[0].customdata[1]  # nobody in June's cohort came back yet
    page = Page(html)
    assert page.tables["usd-order-counts"] == [["1", "2", "66.7%"], ["2", "1", "33.3%"]]
    assert page.tables["usd-product-paths"] == [
        ["Course (P1)", "Mentoring (P2)", "1", "50.0% of 2", "31.0"]
    ]
    assert page.tables["eur-order-counts"] == [["1", "1", "100.0%"]]
    assert page.tables["eur-product-paths"] == []  # dave bought once: no path to list


def test_repeat_purchases_name_the_account_when_a_currency_has_several(
    tmp_path: Path, settings: Settings
) -> None:
    """Carol bought in a second ThriveCart account: each account has its own bars, counts and
    paths, named."""
    snapshot = build_fixture_marts(tmp_path / "marts.duckdb", "main")
    with duckdb.connect(str(snapshot)) as con:
        con.execute(
            """UPDATE repeat_purchase_cohorts SET account = 'outlet'
               WHERE cohort_month = '2025-06-01';
               UPDATE customers_by_order_count SET customers = 1
               WHERE currency = 'USD' AND orders_count = 1;
               INSERT INTO customers_by_order_count VALUES ('outlet', 'USD', 1, 1);
               UPDATE product_paths SET account = 'outlet', first_product_buyers = 1,
                   share_of_first_product_buyers = 1
               WHERE currency = 'USD' AND first_product_id = 'P1' AND next_product_id = '(none)';"""
        )
        con.execute("SET search_path = 'main'")
        usd = next(c for c in collect(con, datetime(2025, 7, 1)).currencies if c.currency == "USD")
    bars = charts.repeat_rate_bars(usd.repeat_cohorts).data
    assert [(trace.name, list(trace.x)) for trace in bars] == [
        ("outlet", ["2025-06"]),
        ("shop", ["2025-01"]),
    ]
    page = Page(write_report(replace(settings, marts_snapshot=snapshot)).path.read_text())
    assert page.tables["usd-order-counts"] == [
        ["outlet", "1", "1", "100.0%"],
        ["shop", "1", "1", "50.0%"],
        ["shop", "2", "1", "50.0%"],
    ]
    assert page.tables["usd-product-paths"] == [
        ["shop: Course (P1)", "Mentoring (P2)", "1", "50.0% of 2", "31.0"]
    ]


def test_traffic_sources_come_from_the_utm_segments(settings: Settings) -> None:
    with open_marts(settings.marts_snapshot) as con:
        contents = collect(con, datetime(2025, 7, 1))
    eur = next(c for c in contents.currencies if c.currency == "EUR")
    assert [(s["label"], s["ltv"], s["eligible_customers"]) for s in eur.sources] == [
        ("google", 300, 1)
    ]
    assert [s["label"] for s in eur.utm_campaigns] == ["brand"]


def test_time_series_are_bucketed_with_quiet_months_as_zero(usd: CurrencyContents) -> None:
    revenue = charts.revenue_chart(usd.revenue, usd.grain, "USD").data
    months = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    assert [list(trace.x) for trace in revenue] == [months] * 3
    assert [list(map(float, trace.y)) for trace in revenue] == [
        [300, 50, 0, 0, 0, 120],
        [0, -20, 0, 0, 0, 0],
        [300, 30, 0, 0, 0, 120],
    ]
    reconciliation = charts.reconciliation_chart(usd.reconciliation, usd.grain, "USD").data
    counts = {t.name: list(map(int, t.y)) for t in reconciliation if t.yaxis == "y"}
    assert counts == {
        "In both": [1, 0, 0, 0, 0, 1],
        "CSV export only": [1, 1, 0, 0, 0, 0],
        "Webhook only": [0, 1, 0, 0, 0, 1],
    }


def float_or_none(value: object) -> float | None:
    return None if value is None else float(value)


@pytest.mark.parametrize(
    ("eligible_by_day", "expected"),
    [
        ({0: 5, 30: 4, 90: 2, 180: 0}, 90),
        ({0: 5, 30: 4, 60: 1, 90: 0}, 60),
        ({0: 0, 30: 0}, None),
    ],
)
def test_segments_compare_at_day_90_else_the_latest_day_with_customers(
    eligible_by_day: dict[int, int], expected: int | None
) -> None:
    curve = [{"day_n": d, "eligible_customers": n} for d, n in eligible_by_day.items()]
    assert queries.segment_day(curve) == expected


def test_data_from_the_marts_is_escaped(tmp_path: Path, settings: Settings) -> None:
    snapshot = build_fixture_marts(tmp_path / "marts.duckdb", "main", metadata=True)
    evil = "<img src=x onerror=alert(1)>"
    with duckdb.connect(str(snapshot)) as con:
        con.execute(
            "UPDATE cac_cohorts SET account = $1, channel = $1 || channel WHERE channel <> '*'",
            [evil],
        )
        con.execute("UPDATE mart_metadata SET margin_basis = ?", [evil])
        con.execute("UPDATE ltv_cohorts_all_currencies SET reporting_currency = ?", [evil])
        con.execute("UPDATE ltv_day_n SET segment_value = ? WHERE segment_value = 'spring'", [evil])
        con.execute(
            "UPDATE source_reconciliation SET payment_type = ? WHERE currency = 'EUR'", [evil]
        )
        for mart in SUBSCRIPTION_MARTS:
            con.execute(f"UPDATE {mart} SET account = ?", [evil])
        con.execute("UPDATE failed_payment_recovery SET kind = ?", [evil])
        con.execute("UPDATE split_pay_plans SET product_name = ?", [evil])
    result = write_report(replace(settings, marts_snapshot=snapshot))
    html = result.path.read_text(encoding="utf-8")
    assert evil not in html
    assert Page(html).external == []


def test_empty_marts_give_a_page_that_says_so(tmp_path: Path, settings: Settings) -> None:
    snapshot = build_fixture_marts(tmp_path / "marts.duckdb", "main")
    with duckdb.connect(str(snapshot)) as con:
        for table in ("fct_payments", "dim_customers", "ltv_day_n", "revenue_daily"):
            con.execute(f"DELETE FROM {table}")
    result = write_report(replace(settings, marts_snapshot=snapshot))
    html = result.path.read_text(encoding="utf-8")
    assert result.currencies == []
    assert "The marts hold no payments yet." in html
    assert "No data yet." in html


def test_a_snapshot_missing_a_mart_or_column_is_named(tmp_path: Path, settings: Settings) -> None:
    snapshot = build_fixture_marts(tmp_path / "marts.duckdb", "main")
    with duckdb.connect(str(snapshot)) as con:
        con.execute(
            """ALTER TABLE revenue_daily DROP COLUMN refunds; DROP TABLE ltv_day_n;
               ALTER TABLE cac_cohorts DROP COLUMN payback_months"""
        )
    lacking = r"lack ltv_day_n, revenue_daily\.refunds, cac_cohorts\.payback_months\..*ltv run"
    with pytest.raises(ReportError, match=lacking):
        write_report(replace(settings, marts_snapshot=snapshot))


def test_cli_writes_the_report_and_names_the_file(tmp_path: Path, settings: Settings) -> None:
    out = tmp_path / "reports" / "ltv.html"
    env = {"LTV_MARTS_SNAPSHOT": str(settings.marts_snapshot)}
    result = CliRunner().invoke(main, ["report", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert f"Wrote {out} (EUR, USD; data as of 2025-06-30 10:00 UTC)." in result.output
    assert Page(out.read_text(encoding="utf-8")).tables["headline"][1][0] == "USD"


def test_cli_without_a_snapshot_says_to_run_the_pipeline_first(tmp_path: Path) -> None:
    env = {"LTV_MARTS_SNAPSHOT": str(tmp_path / "missing.duckdb")}
    result = CliRunner().invoke(main, ["report"], env=env)
    assert result.exit_code == 1
    assert "No marts database at" in result.output
    assert "Run `ltv run` first" in result.output
    assert not (tmp_path / "ltv_report.html").exists()


def _report(settings: Settings, tmp_path: Path, change: str = "", metadata: bool = True) -> str:
    """The report of the fixture marts after the SQL `change`."""
    snapshot = build_fixture_marts(tmp_path / "marts.duckdb", "main", metadata)
    if change:
        with duckdb.connect(str(snapshot)) as con:
            con.execute(change)
    return write_report(replace(settings, marts_snapshot=snapshot)).path.read_text()


def test_margin_stands_beside_revenue_by_day_n(html: str, usd: CurrencyContents) -> None:
    """Margin is each payment's amount less the fee and the Course's cost (the fixture's
    docstring): at day 30 alice's 76.70 and bob's 193.70 over 2 customers, 135.20; at day 60
    alice's Mentoring (48.20) and refund (−20.00) join, 298.60 / 2 = 149.30."""
    page = Page(html)
    assert page.tables["usd-margin-day-n"] == [
        ["0", "3", "380.00", "327.70", "126.67", "109.23"],
        ["7", "3", "380.00", "327.70", "126.67", "109.23"],
        ["30", "2", "300.00", "270.40", "150.00", "135.20"],
        ["60", "2", "330.00", "298.60", "165.00", "149.30"],
        ["90", "2", "330.00", "298.60", "165.00", "149.30"],
        ["180", "0", "0.00", "0.00", "n/a", "n/a"],
        ["365", "0", "0.00", "0.00", "n/a", "n/a"],
    ]
    # The charge clock moves alice's refund to day 0: revenue changes, margin does not.
    assert page.charge_tables["usd-margin-day-n"][:3] == [
        ["0", "3", "360.00", "327.70", "120.00", "109.23"],
        ["7", "3", "360.00", "327.70", "120.00", "109.23"],
        ["30", "2", "280.00", "270.40", "140.00", "135.20"],
    ]
    assert page.tables["eur-margin-day-n"][0] == ["0", "1", "300.00", "295.25", "300.00", "295.25"]
    basis = "Margin here is revenue less processor fees and product costs (docs/costs.md)."
    assert html.count(basis) == 3  # each currency's margin, and all currencies in USD
    assert (
        html.count(
            '<span class="clock-charge"> Margin stays on the cash clock: the charge clock '
            "moves the revenue figures only.</span>"
        )
        == 2
    )
    curves = charts.margin_curves(list(usd.headline.day_n.values()), "USD").data
    assert [(t.name, t.meta, t.visible) for t in curves] == [
        ("Net revenue", {"clock": "cash"}, True),
        ("Net revenue", {"clock": "charge"}, False),
        ("Margin (cash clock)", None, True),
    ]
    assert list(curves[2].x) == [0, 7, 30, 60, 90]
    assert list(map(float, curves[2].y)) == [109.23, 109.23, 135.2, 149.3, 149.3]


def test_margin_basis_says_when_margin_is_only_revenue(tmp_path: Path, settings: Settings) -> None:
    revenue_only = _report(
        settings,
        tmp_path,
        "UPDATE mart_metadata SET margin_basis = 'revenue only: no cost files in landing/costs/'",
    )
    sentence = "Margin here is revenue only: no cost files in landing/costs/ (docs/costs.md)."
    assert revenue_only.count(sentence) == 3
    unknown = _report(settings, tmp_path / "none", metadata=False)
    # Without mart_metadata the converted cohorts still show, from their own mart.
    assert unknown.count("These marts do not record which costs the margin subtracts.") == 3
    assert "<h3>All currencies in USD</h3>" in unknown


def test_cac_and_payback_by_channel(html: str) -> None:
    """facebook: 280.00 in January (nobody acquired) and 50.00 in June (carol, margin 75.80,
    paid back in month 0): 330.00 for 1 customer, 75.80 / 330.00 = 0.23×, 1 of its 2 months
    paid back. The untracked customers had no spend. Dave's 295.25 never paid back google's
    400.00 (0.74×)."""
    page = Page(html)
    assert page.tables["usd-shop-cac-channels"] == [
        ["facebook", "330.00", "1", "330.00", "75.80", "0.23×", "1 of 2", "0"],
        ["(not tracked)", "0.00", "2", "n/a", "149.30", "n/a", "no spend", "n/a"],
    ]
    # Every channel: January's 280.00 over alice and bob is 140.00 each, paid back in month 1
    # (270.40 by January's end, 298.60 by February's).
    assert page.tables["usd-shop-cac-months"] == [
        ["2025-01", "280.00", "2", "140.00", "149.30", "1.07×", "1"],
        ["2025-06", "50.00", "1", "50.00", "75.80", "1.52×", "0"],
    ]
    assert page.tables["eur-shop-cac-channels"] == [
        ["google", "400.00", "1", "400.00", "295.25", "0.74×", "0 of 1", "not yet"]
    ]
    assert page.tables["eur-shop-cac-months"] == [
        ["2025-02", "400.00", "1", "400.00", "295.25", "0.74×", "not yet"]
    ]
    assert "No ad spend in" not in html


def test_cac_channels_add_up_every_month_the_month_table_the_last_12(
    tmp_path: Path, settings: Settings
) -> None:
    """A year-old facebook month (100.00, 1 customer at 150.00 margin, paid back in month 2)
    counts in the channel, not in the month table: 430.00 for 2 customers, margin
    225.80 / 2 = 112.90 each and 225.80 / 430.00 = 0.53×; with months 0 and 2 paid back the
    median is month 1."""
    old = """('shop', 'USD', '2024-06-01', {channel}, 100.00, 1, 100.00, 160.00, 150.00,
              160.00, 150.00, NULL, NULL, NULL, NULL, NULL, NULL, 1.50, 2)"""
    html = _report(
        settings,
        tmp_path,
        "INSERT INTO cac_cohorts VALUES "
        + ", ".join(old.format(channel=c) for c in ("'facebook', '*'", "'*', '*'")),
    )
    page = Page(html)
    assert page.tables["usd-shop-cac-channels"][0] == [
        "facebook",
        "430.00",
        "2",
        "215.00",
        "112.90",
        "0.53×",
        "2 of 3",
        "1",
    ]
    assert [row[0] for row in page.tables["usd-shop-cac-months"]] == ["2025-01", "2025-06"]


def test_without_ad_spend_cac_says_where_the_spend_goes(tmp_path: Path, settings: Settings) -> None:
    html = _report(
        settings,
        tmp_path,
        """UPDATE cac_cohorts SET spend = 0, cac = NULL, margin_ltv_to_cac = NULL,
               payback_months = NULL""",
    )
    for currency in ("EUR", "USD"):
        assert (
            f'<p class="empty">No ad spend in {currency} yet, so no CAC or payback. Drop daily '
            "ad spend (a plain file, or Meta Ads Manager and Google Ads daily campaign reports) "
            "into landing/ad_spend/ (docs/costs.md).</p>"
        ) in html
    page = Page(html)
    assert not [t for t in page.tables if "-cac-" in t]


def test_cac_names_the_account_when_a_currency_has_several(
    tmp_path: Path, settings: Settings
) -> None:
    """Carol's June moved to a second account: each account its own channels and months."""
    html = _report(
        settings,
        tmp_path,
        "UPDATE cac_cohorts SET account = 'outlet' WHERE cohort_month = '2025-06-01'",
    )
    page = Page(html)
    assert page.tables["usd-outlet-cac-channels"] == [
        ["facebook", "50.00", "1", "50.00", "75.80", "1.52×", "1 of 1", "0"]
    ]
    assert page.tables["usd-shop-cac-channels"][0] == [
        "facebook",
        "280.00",
        "0",
        "n/a",
        "n/a",
        "n/a",
        "0 of 1",
        "not yet",
    ]
    assert page.tables["usd-outlet-cac-months"] == [
        ["2025-06", "50.00", "1", "50.00", "75.80", "1.52×", "0"]
    ]
    assert '<div class="account" data-account="outlet">\n<h4>outlet</h4>' in html
    assert _options(html, "account") == [("all", True), ("outlet", False), ("shop", False)]


def test_all_currencies_in_the_reporting_currency(html: str) -> None:
    """Each cohort at its latest month in USD: dave's 300.00 EUR is 330.00 USD at 1.10, his
    margin 295.25 × 1.10 = 324.78; every cohort's latest month is still running."""
    assert Page(html).tables["all-currencies"] == [
        ["2025-01", "2", "5 (to date)", "165.00", "149.30"],
        ["2025-02", "1", "4 (to date)", "330.00", "324.78"],
        ["2025-06", "1", "0 (to date)", "120.00", "75.80"],
    ]
    assert "Left out of these figures" not in html
    assert "set LTV_REPORTING_CURRENCY" not in html


def test_all_currencies_count_the_payments_without_a_rate(
    tmp_path: Path, settings: Settings
) -> None:
    html = _report(settings, tmp_path, "UPDATE mart_metadata SET payments_not_converted = 2")
    assert (
        '<p class="explain">Left out of these figures: 2 payments without an exchange rate on '
        "or before the day paid (add rates to landing/fx_rates/).</p>"
    ) in html


@pytest.mark.parametrize(("currencies", "hint"), [(("EUR", "USD"), True), (("USD",), False)])
def test_without_a_reporting_currency_several_currencies_say_how_to_add_them_up(
    tmp_path: Path, settings: Settings, currencies: tuple[str, ...], hint: bool
) -> None:
    """No converted cohorts: a line on how to get them when there are currencies to add up."""
    only = "', '".join(currencies)
    html = _report(
        settings,
        tmp_path,
        f"""DELETE FROM ltv_cohorts_all_currencies;
            UPDATE mart_metadata SET reporting_currency = NULL;
            DELETE FROM revenue_daily WHERE currency NOT IN ('{only}');
            DELETE FROM dim_customers WHERE currency NOT IN ('{only}');""",
    )
    assert "All currencies in" not in html and "all-currencies" not in Page(html).tables
    line = (
        "To see every currency in one, set LTV_REPORTING_CURRENCY (e.g. USD) and drop exchange "
        "rates into landing/fx_rates/ (docs/costs.md)."
    )
    assert (line in html) is hint

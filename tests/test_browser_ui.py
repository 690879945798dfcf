"""What people look at, in a real browser: the Dagster UI's asset graph and the LTV report.

Headless Debian chromium through selenium (tests/browser_support.py).
Each page must render its content, not just answer: the asset graph draws our asset groups
and the marts, the report draws every plotly chart and shows the snapshot's numbers. A
screenshot of every page is saved under the test's tmp dir.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import duckdb
import pytest
from browser_support import chromium
from e2e_support import (
    BIN,
    SECRET,
    drop_file,
    run_command,
    running_stack,
    settings_of,
    settle,
    stack_environment,
    truth_net_by_currency,
)
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_report_fixture import EUR_SEGMENTS_AT_DAY_30, build_fixture_marts

from pipeline.dbt_docs import default_docs_path
from pipeline.demo import generate_seller, load_truth
from pipeline.report.build import write_report
from pipeline.settings import Settings
from pipeline.sidecar.replay import replay_to_log

# Bounds for the browser: the Dagster UI is a large single-page app on a loaded machine.
PAGE_TIMEOUT_SECONDS = 90
LTV_RUN_TIMEOUT_SECONDS = 300.0
ASSET_GROUPS = ("raw", "staging", "intermediate", "marts", "publish")
# The graph fills in only the nodes in view, and which those are follows the layout of the
# whole lineage: at least a few of the group's marts must be drawn.
MARTS = (
    "customers_by_order_count",
    "dim_customers",
    "dim_subscriptions",
    "fct_payments",
    "ltv_cohorts_monthly",
    "ltv_day_n",
    "mart_metadata",
    "product_paths",
    "repeat_purchase_cohorts",
    "revenue_daily",
    "source_reconciliation",
)
MARTS_DRAWN = 3

T = TypeVar("T")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """A headless chromium with a fresh profile; quit (and its processes gone) afterwards."""
    with chromium(tmp_path, PAGE_TIMEOUT_SECONDS) as driver:
        yield driver


def _wait(driver: WebDriver, what: str, condition: Callable[[WebDriver], T]) -> T:
    """WebDriverWait with our bound; on timeout the message names what did not appear and
    shows the page as it was (URL, title, text)."""
    try:
        return WebDriverWait(driver, PAGE_TIMEOUT_SECONDS, poll_frequency=0.5).until(condition)
    except TimeoutException:
        text = driver.find_element(By.TAG_NAME, "body").text
        pytest.fail(
            f"{what} did not appear within {PAGE_TIMEOUT_SECONDS} s on {driver.current_url} "
            f"(title {driver.title!r}); the page showed:\n{text[:2000]}"
        )


def _graph_labels(driver: WebDriver) -> set[str]:
    """The first line of every node drawn in the asset graph (the group or asset name)."""
    nodes = driver.find_elements(By.CSS_SELECTOR, "svg foreignObject")
    return {node.text.split("\n", 1)[0] for node in nodes if node.text}


def _dismiss_dialogs(driver: WebDriver) -> None:
    """Close the UI's first-visit dialog ("Join the Dagster community") if it is open."""
    for button in driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
        button.click()


def _assert_no_error(driver: WebDriver, page: str) -> None:
    text = driver.find_element(By.TAG_NAME, "body").text
    assert "error" not in text.lower(), f"{page} shows an error:\n{text[:2000]}"


def test_dagster_ui_draws_the_asset_graph(tmp_path: Path, browser: WebDriver) -> None:
    """The webserver as `ltv up` starts it: the global lineage shows our five asset groups,
    and the marts group draws its assets."""
    with running_stack(tmp_path / "pipeline", services=("dagster-webserver",)) as stack:
        browser.get(f"{stack.ui_url}/asset-groups")
        _wait(browser, "the five asset groups", lambda d: set(ASSET_GROUPS) <= _graph_labels(d))
        _dismiss_dialogs(browser)
        _assert_no_error(browser, "the global asset lineage")
        browser.save_screenshot(str(tmp_path / "dagster-asset-groups.png"))

        browser.get(f"{stack.ui_url}/locations/pipeline.definitions/asset-groups/marts")
        _wait(
            browser,
            "the marts' asset nodes",
            lambda d: len(set(MARTS) & _graph_labels(d)) >= MARTS_DRAWN,
        )
        _dismiss_dialogs(browser)
        # Not the page title: the UI's useDocumentTitle restores the title it replaced when a
        # component unmounts, so a remount during loading can leave "Dagster" for good.
        assert browser.current_url.endswith("/asset-groups/marts"), browser.current_url
        _assert_no_error(browser, "the marts asset group")
        browser.save_screenshot(str(tmp_path / "dagster-marts-group.png"))

    for name in ("dagster-asset-groups.png", "dagster-marts-group.png"):
        assert (tmp_path / name).stat().st_size > 10_000, f"{name} is (nearly) empty"


def test_ltv_report_renders_its_charts_and_numbers(tmp_path: Path, browser: WebDriver) -> None:
    """`ltv report` after a real `ltv run`, opened from disk: every chart drawn, one section
    per currency, and the headline net revenue per currency equal to truth.json's."""
    seller = generate_seller(tmp_path / "seller", 25, seed=9, secret=SECRET)
    want_net = {
        cur: f"{net:,.2f}" for cur, net in truth_net_by_currency(load_truth(seller.out)).items()
    }
    env = stack_environment(tmp_path / "pipeline")
    settings = settings_of(env)
    for name in ("latest", "recurring", "limited"):
        export = seller.files[name]
        drop_file(export, settings.landing_dir / export.relative_to(seller.out))
    settle(settings.landing_dir)
    replay_to_log(seller.files["deliveries"], settings.webhooks_dir, {"*": SECRET})
    logs, report = tmp_path / "logs", tmp_path / "report.html"
    built = run_command([str(BIN / "ltv"), "run"], env, LTV_RUN_TIMEOUT_SECONDS, logs / "run.log")
    assert built.returncode == 0, built.output
    written = run_command(
        [str(BIN / "ltv"), "report", "--out", str(report)], env, 120.0, logs / "report.log"
    )
    assert written.returncode == 0, written.output

    browser.get(report.as_uri())
    charts = browser.find_elements(By.CSS_SELECTOR, "div.plotly-graph-div")
    assert len(charts) >= 2 * len(want_net), f"only {len(charts)} charts in the report"
    _wait(
        browser,
        "every chart drawn (an svg in each .plot-container)",
        lambda d: (
            len(d.find_elements(By.CSS_SELECTOR, ".plot-container svg.main-svg")) >= len(charts)
        ),
    )
    assert browser.title == "Customer lifetime value"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Customer lifetime value"
    sections = browser.find_elements(By.CSS_SELECTOR, "section.currency h2")
    assert {section.text for section in sections} == set(want_net)
    headline = {}
    for row in browser.find_elements(By.CSS_SELECTOR, "table#headline tbody tr"):
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        headline[cells[0]] = cells[4]  # Currency, Customers, Gross, Refunds, Net revenue
    assert headline == want_net
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, f"the report logged errors in the browser console: {severe}"
    browser.save_screenshot(str(tmp_path / "ltv-report.png"))
    assert (tmp_path / "ltv-report.png").stat().st_size > 10_000

    # The same `ltv run` wrote the dbt docs beside the snapshot: one file that opens from disk,
    # with the model's description (manifest) and its column types (the warehouse's catalog).
    model_page = "#!/model/model.thrivecart_ltv.dim_customers"
    browser.get(default_docs_path(settings).as_uri() + model_page)
    page = _wait(
        browser,
        "dim_customers' page in the dbt docs",
        lambda d: _text_with(d, "One row per (customer, currency)"),
    )
    assert browser.title == "dbt Docs"
    assert "ltv.marts.dim_customers" in page and "VARCHAR" in page
    browser.save_screenshot(str(tmp_path / "dbt-docs.png"))


def _text_with(driver: WebDriver, expected: str) -> str | None:
    """The page's text once it contains `expected`."""
    text = driver.find_element(By.TAG_NAME, "body").text
    return text if expected in text else None


def _choose(driver: WebDriver, control: str, value: str) -> None:
    """Pick `value` in one of the report's controls, as a reader would."""
    Select(driver.find_element(By.ID, f"control-{control}")).select_by_value(value)


def _shown(driver: WebDriver, element_id: str) -> bool:
    return driver.find_element(By.ID, element_id).is_displayed()


def _cells(driver: WebDriver, table_id: str, row: int) -> list[str]:
    """The visible text of one row of a table (hidden numbers read as nothing)."""
    cells = driver.find_elements(By.CSS_SELECTOR, f"table#{table_id} tbody tr")[row]
    return [cell.text for cell in cells.find_elements(By.TAG_NAME, "td")]


def _visible_traces(driver: WebDriver, div_id: str) -> list[dict[str, str]]:
    """The meta of the traces a chart draws now."""
    return driver.execute_script(
        "return document.getElementById(arguments[0]).data"
        ".filter(t => t.visible !== false).map(t => t.meta || {});",
        div_id,
    )


def _day_block(driver: WebDriver, currency: str, day: str) -> tuple[bool, str]:
    """Whether a currency's "LTV by first product" block of one day N shows, and its first
    line."""
    block = driver.find_element(
        By.XPATH,
        f"//section[@id='{currency}']//h3[.='LTV by first product']"
        f"/following-sibling::div[@data-day-n='{day}'][1]",
    )
    return block.is_displayed(), block.find_element(By.TAG_NAME, "p").get_attribute("textContent")


def _open_fixture_report(driver: WebDriver, tmp_path: Path, change: str) -> None:
    """The hand-made marts' report, after the SQL `change`, opened from disk with every chart
    drawn and the control bar revealed by its script."""
    snapshot = build_fixture_marts(tmp_path / "warehouse" / "marts.duckdb", "main")
    with duckdb.connect(str(snapshot)) as con:
        con.execute(change)
    settings = Settings(
        landing_dir=tmp_path / "landing",
        warehouse=tmp_path / "ltv.duckdb",
        marts_snapshot=snapshot,
        dagster_home=tmp_path / "dagster",
    )
    driver.get(write_report(settings).path.as_uri())
    charts = driver.find_elements(By.CSS_SELECTOR, "div.plotly-graph-div")
    _wait(
        driver,
        "every chart drawn",
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")) == len(charts),
    )
    assert _shown(driver, "controls")


def test_report_controls_switch_currency_account_day_and_clock(
    tmp_path: Path, browser: WebDriver
) -> None:
    """The hand-made marts' report from disk, carol's recovered rebill in a second account
    (outlet): each control shows and hides what it says, with the fixture's numbers."""
    _open_fixture_report(
        browser,
        tmp_path,
        "UPDATE failed_payment_recovery SET account = 'outlet' WHERE failure_month = '2025-06-01'",
    )

    # Refund clock: cash by default, the charge clock's numbers and traces on demand.
    assert _cells(browser, "usd-day-n", 2) == ["30", "3", "2", "300.00", "150.00"]
    assert _cells(browser, "headline", 1)[5:7] == ["150.00", "165.00"]
    assert _visible_traces(browser, "usd-cohorts") == [{"clock": "cash"}]
    _choose(browser, "clock", "charge")
    assert _cells(browser, "usd-day-n", 2) == ["30", "3", "2", "280.00", "140.00"]
    assert _cells(browser, "headline", 1)[5:7] == ["140.00", "165.00"]
    assert _visible_traces(browser, "usd-cohorts") == [{"clock": "charge"}]
    curves = _visible_traces(browser, "usd-curves")
    assert curves and all(meta == {"clock": "charge"} for meta in curves)

    # Day N of the segment tables: day 90 by default, day 30 on demand (still charge clock).
    day_30 = "usd-ltv-by-first-product-day-30-table"
    day_90 = "usd-ltv-by-first-product-day-90-table"
    assert _shown(browser, day_90) and not _shown(browser, day_30)
    _choose(browser, "day-n", "30")
    assert _shown(browser, day_30) and not _shown(browser, day_90)
    assert _cells(browser, day_30, 1) == ["Course (P1)", "2", "1", "80.00", "80.00"]
    assert _visible_traces(browser, "usd-ltv-by-first-product-day-30") == [{"clock": "charge"}]
    assert not _shown(browser, "eur-ltv-by-first-product-day-90-table")
    _choose(browser, "clock", "cash")
    assert _cells(browser, day_30, 1) == ["Course (P1)", "2", "1", "100.00", "100.00"]
    # A day EUR's marts lack says so; USD has it, with nobody old enough in a group.
    _choose(browser, "day-n", "7")
    eur_7 = (True, "Day 7 is not computed for EUR (see LTV_DAY_N).")
    assert _day_block(browser, "eur", "7") == eur_7
    assert _day_block(browser, "eur", "90")[0] is False
    assert _day_block(browser, "usd", "7") == (
        True,
        "No group has a customer acquired at least 7 days ago yet.",
    )
    assert not _shown(browser, day_30)
    _choose(browser, "day-n", "90")

    # Account: one account's blocks, rows and traces; a section with nothing of the account
    # says so.
    outlet = "usd-outlet-failed-payments"
    notes = {
        "usd-mrr-movements-account-none": "recurring subscriptions in USD.",
        "usd-subscription-retention-account-none": "the last 12 months in USD.",
        "usd-failed-payments-and-split-pay-account-none": "split-pay plans in USD.",
        "eur-failed-payments-and-split-pay-account-none": "split-pay plans in EUR.",
    }
    assert _shown(browser, outlet) and _shown(browser, "usd-shop-mrr")
    assert not any(_shown(browser, note) for note in notes)
    _choose(browser, "account", "outlet")
    assert _shown(browser, outlet)
    assert not _shown(browser, "usd-shop-mrr") and not _shown(browser, "usd-shop-failed-payments")
    assert {note: _shown(browser, note) for note in notes} == {
        "usd-mrr-movements-account-none": True,
        "usd-subscription-retention-account-none": True,
        "usd-failed-payments-and-split-pay-account-none": False,  # outlet's failed rebill
        "eur-failed-payments-and-split-pay-account-none": True,
    }
    for note in (
        "usd-mrr-movements-account-none",
        "eur-failed-payments-and-split-pay-account-none",
    ):
        text = browser.find_element(By.ID, note).text
        assert text.startswith("The chosen account has no ") and text.endswith(notes[note])
    assert _cells(browser, outlet, 0) == [
        "2025-06",
        "recurring",
        "1",
        "1",
        "0",
        "0",
        "100.0%",
        "40.00",
    ]
    assert not any(
        row.is_displayed()
        for row in browser.find_elements(By.CSS_SELECTOR, "table#usd-order-counts tbody tr")
    )
    _choose(browser, "account", "shop")
    assert not _shown(browser, outlet) and _shown(browser, "usd-shop-mrr")
    assert not any(_shown(browser, note) for note in notes)
    assert _cells(browser, "usd-shop-mrr", 1)[:3] == ["2025-02", "233.33", "0.00"]
    assert _visible_traces(browser, "usd-repeat-purchases") == [{"account": "shop"}]
    _choose(browser, "account", "all")

    # Currency: one section, then all again.
    _choose(browser, "currency", "EUR")
    assert _shown(browser, "eur") and not _shown(browser, "usd")
    assert _shown(browser, "eur-shop-split-pay")
    _choose(browser, "currency", "all")
    assert _shown(browser, "eur") and _shown(browser, "usd")

    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, f"the report logged errors in the browser console: {severe}"
    browser.save_screenshot(str(tmp_path / "ltv-report-controls.png"))


def test_report_day_n_control_starts_at_each_currencys_own_day(
    tmp_path: Path, browser: WebDriver
) -> None:
    """EUR's segments at day 30, USD's at 90: the bar starts at each currency's default, one
    day shows both currencies' tables at that day (or says the day is not computed), and
    "each currency's default" brings back the start."""
    _open_fixture_report(browser, tmp_path, EUR_SEGMENTS_AT_DAY_30)
    eur_30, usd_30, usd_90 = (
        f"{cur}-ltv-by-first-product-day-{day}-table"
        for cur, day in (("eur", 30), ("usd", 30), ("usd", 90))
    )
    control = Select(browser.find_element(By.ID, "control-day-n"))
    assert control.first_selected_option.text == "Each currency's default"
    assert _shown(browser, eur_30) and _shown(browser, usd_90) and not _shown(browser, usd_30)
    assert _cells(browser, eur_30, 0) == ["Buch (P3)", "1", "1", "300.00", "300.00"]

    _choose(browser, "day-n", "30")
    assert _shown(browser, eur_30) and _shown(browser, usd_30) and not _shown(browser, usd_90)
    assert _cells(browser, usd_30, 1) == ["Course (P1)", "2", "1", "100.00", "100.00"]

    _choose(browser, "day-n", "90")
    assert not _shown(browser, eur_30) and _shown(browser, usd_90)
    assert _day_block(browser, "eur", "90") == (
        True,
        "Day 90 is not computed for EUR (see LTV_DAY_N).",
    )

    _choose(browser, "day-n", "default")
    assert _shown(browser, eur_30) and _shown(browser, usd_90) and not _shown(browser, usd_30)
    assert _day_block(browser, "eur", "90")[0] is False
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, f"the report logged errors in the browser console: {severe}"


def test_report_cac_and_margin_follow_the_currency_and_clock_controls(
    tmp_path: Path, browser: WebDriver
) -> None:
    """CAC and payback show per currency and switch with the currency control; margin against
    revenue keeps its margin on the charge clock, where a note says so."""
    _open_fixture_report(browser, tmp_path, "SELECT 1")
    usd, eur = "usd-shop-cac-channels", "eur-shop-cac-channels"
    assert _shown(browser, usd) and _shown(browser, eur)
    assert _cells(browser, usd, 0) == [
        "facebook",
        "330.00",
        "1",
        "330.00",
        "75.80",
        "0.23×",
        "1 of 2",
        "0",
    ]
    _choose(browser, "currency", "EUR")
    assert _shown(browser, eur) and not _shown(browser, usd)
    _choose(browser, "currency", "USD")
    assert _shown(browser, "usd-shop-cac-months") and not _shown(browser, "eur-shop-cac-months")

    note = browser.find_element(
        By.XPATH, "//section[@id='usd']//span[@class='clock-charge'][contains(., 'Margin stays')]"
    )
    assert _cells(browser, "usd-margin-day-n", 2) == [
        "30",
        "2",
        "300.00",
        "270.40",
        "150.00",
        "135.20",
    ]
    assert not note.is_displayed()
    _choose(browser, "clock", "charge")
    assert _cells(browser, "usd-margin-day-n", 2) == [
        "30",
        "2",
        "280.00",
        "270.40",
        "140.00",
        "135.20",
    ]
    assert note.is_displayed()
    assert _visible_traces(browser, "usd-margin") == [{"clock": "charge"}, {}]
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, f"the report logged errors in the browser console: {severe}"

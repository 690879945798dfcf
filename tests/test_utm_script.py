"""integrations/thrivecart-utm.js in a real browser: the landing-page script that hands a
visitor's UTM parameters to ThriveCart as passthrough parameters (docs/utm-tracking.md).

Local pages are served from a tmp dir over loopback; headless chromium opens them
(tests/browser_support.py). Checkout links are never followed: the test page cancels every
click and notes the URL the browser would have opened. One browser for the whole module;
each test starts on an origin with empty storage.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_support import chromium
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from pipeline.settings import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "integrations" / "thrivecart-utm.js"
STORAGE_KEY = "thrivecart_utm"
THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000
PAGE_TIMEOUT_SECONDS = 20
WAIT_SECONDS = 5.0

CHECKOUT = "https://demo.thrivecart.com/course/?coupon=X#top"
UNTOUCHED = {
    "other": "https://example.org/",
    "lookalike": "https://thrivecart.com.example.org/course/",
    "unlisted": "https://shop.pay.example.com/buy",
}
TAGGED = "/landing.html?utm_source=fb&utm_campaign=spring%20sale&gclid=abc"
CARRIED = {
    "passthrough[utm_source]": ["fb"],
    "passthrough[utm_campaign]": ["spring sale"],
    "passthrough[gclid]": ["abc"],
}
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>{title}</title>{head}
</head><body>
<a id="checkout" href="{checkout}">Buy</a>
<a id="kept" href="https://demo.thrivecart.com/course/?passthrough[utm_source]=keep">Buy</a>
<a id="custom" href="https://PAY.example.com/buy">Buy on the seller's domain</a>
<a id="other" href="{other}">Elsewhere</a>
<a id="lookalike" href="{lookalike}">Not a checkout</a>
<a id="unlisted" href="{unlisted}">Not a listed host</a>
<div id="embed" class="tc-v2-embeddable-target" data-thrivecart-account="demo"></div>
<div id="embed-set" class="tc-v2-embeddable-target"
     data-thrivecart-querystring="coupon=X&amp;passthrough[utm_source]=keep"></div>
<script>
  // Stay on the page: note the URL a click would open instead of following it.
  document.addEventListener('click', (event) => {{
    const link = event.target.closest('a');
    if (link) {{ event.preventDefault(); window.clickedHref = link.href; }}
  }});
</script>
<script src="/thrivecart-utm.js" data-checkout-hosts="pay.example.com other.example"></script>
</body></html>
"""
# A browser with site data blocked: touching localStorage throws, as in some private modes.
BLOCKED_STORAGE = """<script>
  Object.defineProperty(window, 'localStorage', {
    get() { throw new DOMException('site data blocked', 'SecurityError'); },
  });
</script>"""
PAGES = {
    "landing.html": ("Landing", ""),
    "pricing.html": ("Pricing", ""),
    "blocked-storage.html": ("Blocked storage", BLOCKED_STORAGE),
}
ADD_SCRIPT_AGAIN = """
const done = arguments[arguments.length - 1];
const tag = document.createElement('script');
tag.src = '/thrivecart-utm.js';
tag.dataset.checkoutHosts = 'pay.example.com other.example';
tag.onload = () => done('loaded');
tag.onerror = () => done('failed');
document.body.appendChild(tag);
"""

T = TypeVar("T")


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves the site's files without a log line per request."""

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The script and the test pages served over loopback; the base URL."""
    root = tmp_path_factory.mktemp("site")
    shutil.copy(SCRIPT, root / SCRIPT.name)
    for name, (title, head) in PAGES.items():
        html = PAGE.format(title=title, head=head, checkout=CHECKOUT, **UNTOUCHED)
        (root / name).write_text(html, encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    with chromium(tmp_path_factory.mktemp("chromium"), PAGE_TIMEOUT_SECONDS) as driver:
        driver.set_script_timeout(WAIT_SECONDS)
        yield driver


@pytest.fixture(autouse=True)
def page(browser: WebDriver, site: str) -> Iterator[Callable[[str], None]]:
    """Opens a path of the site. Each test starts with empty storage, and may log no error in
    the browser console."""
    browser.get(f"{site}/pricing.html")
    browser.execute_script("localStorage.clear()")
    browser.get_log("browser")  # drop what came before
    yield lambda path: browser.get(site + path)
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, f"the page logged errors: {severe}"


def _wait(browser: WebDriver, what: str, condition: Callable[[WebDriver], T]) -> T:
    return WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.05).until(condition, what)


def _href(browser: WebDriver, element_id: str) -> str:
    """The link's href attribute as written in the page (not resolved)."""
    return browser.find_element(By.ID, element_id).get_dom_attribute("href")


def _embed_query(browser: WebDriver, element_id: str) -> str | None:
    return browser.find_element(By.ID, element_id).get_dom_attribute("data-thrivecart-querystring")


def _split(href: str) -> tuple[str, dict[str, list[str]], str]:
    """(scheme://host/path, parsed query, fragment) of a URL."""
    parts = urlsplit(href)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return base, parse_qs(parts.query, keep_blank_values=True), parts.fragment


def _assert_carries(browser: WebDriver, carried: dict[str, list[str]]) -> None:
    """The checkout link carries exactly `carried` besides its coupon, hash kept."""
    assert _split(_href(browser, "checkout")) == (
        "https://demo.thrivecart.com/course/",
        {"coupon": ["X"], **carried},
        "top",
    )


def _assert_untouched(browser: WebDriver) -> None:
    """No link and no embed decorated."""
    assert _href(browser, "checkout") == CHECKOUT
    assert _embed_query(browser, "embed") is None


def test_checkout_links_carry_the_landing_page_utms(
    browser: WebDriver, page: Callable[[str], None]
) -> None:
    page(TAGGED)
    _assert_carries(browser, CARRIED)
    assert "passthrough[utm_source]=fb" in _href(browser, "checkout")  # readable brackets
    # A host listed in data-checkout-hosts, matched whatever its case.
    assert _split(_href(browser, "custom")) == ("https://pay.example.com/buy", CARRIED, "")
    # A passthrough key already on the link is the seller's: kept, the others added.
    assert _split(_href(browser, "kept")) == (
        "https://demo.thrivecart.com/course/",
        {**CARRIED, "passthrough[utm_source]": ["keep"]},
        "",
    )
    for element_id, href in UNTOUCHED.items():
        assert _href(browser, element_id) == href, element_id


def test_embedded_carts_get_the_querystring(
    browser: WebDriver, page: Callable[[str], None]
) -> None:
    page(TAGGED)
    query = _embed_query(browser, "embed")
    assert parse_qs(query) == CARRIED
    assert query.startswith("passthrough[utm_source]=fb&")
    assert parse_qs(_embed_query(browser, "embed-set")) == {
        **CARRIED,
        "coupon": ["X"],
        "passthrough[utm_source]": ["keep"],
    }


def test_links_and_embeds_added_after_load_are_decorated(
    browser: WebDriver, page: Callable[[str], None]
) -> None:
    page(TAGGED)
    browser.execute_script(
        """const box = document.createElement('section');
        box.innerHTML = '<p><a id="late" href="https://demo.thrivecart.com/late/">Buy</a></p>'
            + '<div id="late-embed" class="tc-v2-embeddable-target"></div>';
        document.body.appendChild(box);"""
    )
    _wait(browser, "the late link decorated", lambda b: "passthrough" in _href(b, "late"))
    assert _split(_href(browser, "late")) == ("https://demo.thrivecart.com/late/", CARRIED, "")
    late_embed = _wait(browser, "the late embed decorated", lambda b: _embed_query(b, "late-embed"))
    assert parse_qs(late_embed) == CARRIED


def test_a_link_changed_after_load_is_decorated_when_clicked(
    browser: WebDriver, page: Callable[[str], None]
) -> None:
    """An href swapped in place (no element added) is decorated in the click's capture phase,
    before anything else sees the click."""
    page(TAGGED)
    swapped = "https://demo.thrivecart.com/yearly/?plan=2"
    browser.execute_script(f"document.getElementById('other').setAttribute('href', '{swapped}')")
    browser.find_element(By.ID, "other").click()
    clicked = _wait(browser, "the click noted", lambda b: b.execute_script("return clickedHref"))
    yearly = ("https://demo.thrivecart.com/yearly/", {"plan": ["2"], **CARRIED}, "")
    assert _split(clicked) == yearly


def test_a_later_page_uses_the_stored_values_and_a_new_url_replaces_them(
    browser: WebDriver, page: Callable[[str], None]
) -> None:
    page(TAGGED)
    stored = json.loads(browser.execute_script(f"return localStorage.getItem('{STORAGE_KEY}')"))
    assert abs(stored["expires"] - time.time() * 1000 - THIRTY_DAYS_MS) < 60_000
    page("/pricing.html")
    _assert_carries(browser, CARRIED)
    assert parse_qs(_embed_query(browser, "embed")) == CARRIED

    # A new tagged landing replaces the whole set: no campaign or gclid of the older ad.
    page("/landing.html?utm_source=google&utm_medium=cpc")
    newer = {"passthrough[utm_source]": ["google"], "passthrough[utm_medium]": ["cpc"]}
    _assert_carries(browser, newer)
    page("/pricing.html")
    _assert_carries(browser, newer)


@pytest.mark.parametrize(
    "stored",
    [
        json.dumps({"values": {"utm_source": "fb"}, "expires": 1_000}),  # expired long ago
        "{not json",
        json.dumps({"values": {"utm_source": ["not", "a", "string"]}, "expires": 2**52}),
    ],
    ids=["expired", "unreadable", "wrong-type"],
)
def test_expired_or_unreadable_storage_is_ignored(
    browser: WebDriver, page: Callable[[str], None], stored: str
) -> None:
    browser.execute_script("localStorage.setItem(arguments[0], arguments[1])", STORAGE_KEY, stored)
    page("/pricing.html")
    _assert_untouched(browser)


def test_blocked_storage_still_carries_the_page_url(
    browser: WebDriver, page: Callable[[str], None]
) -> None:
    page("/blocked-storage.html?utm_source=fb&utm_campaign=spring%20sale&gclid=abc")
    blocked = "try { localStorage; return false; } catch (error) { return true; }"
    assert browser.execute_script(blocked), "the page should have no usable localStorage"
    _assert_carries(browser, CARRIED)
    assert parse_qs(_embed_query(browser, "embed")) == CARRIED
    page("/blocked-storage.html")  # nothing to read back, and no error either
    _assert_untouched(browser)


def test_no_utms_anywhere_leaves_the_page_alone(
    browser: WebDriver, page: Callable[[str], None]
) -> None:
    page("/landing.html?utm_source=&coupon=Y")
    _assert_untouched(browser)


def test_running_the_script_twice_adds_nothing_twice(
    browser: WebDriver, page: Callable[[str], None]
) -> None:
    page(TAGGED)
    read_all = """return [...document.querySelectorAll('a[href]')].map((a) => a.href)
        .concat([...document.querySelectorAll('[data-thrivecart-querystring]')]
            .map((div) => div.dataset.thrivecartQuerystring));"""
    before = browser.execute_script(read_all)
    assert browser.execute_async_script(ADD_SCRIPT_AGAIN) == "loaded"
    assert browser.execute_script(read_all) == before
    # Two copies now watch the page: a new link still gets each key once.
    browser.execute_script(
        """document.body.insertAdjacentHTML('beforeend',
            '<a id="late" href="https://demo.thrivecart.com/late/">Buy</a>');"""
    )
    _wait(browser, "the late link decorated", lambda b: "passthrough" in _href(b, "late"))
    assert _split(_href(browser, "late")) == ("https://demo.thrivecart.com/late/", CARRIED, "")
    browser.find_element(By.ID, "checkout").click()
    clicked = _wait(browser, "the click noted", lambda b: b.execute_script("return clickedHref"))
    assert _split(clicked) == _split(_href(browser, "checkout"))
    _assert_carries(browser, CARRIED)

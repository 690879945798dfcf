"""Headless Debian chromium for the browser tests (tests/test_browser_*.py, test_utm_script.py).

Selenium drives /usr/bin/chromium through /usr/bin/chromedriver. `make test` installs both with
scripts/ensure-chromium.sh; a plain pytest run installs them the same way if it can, and a test
that needs them is skipped with the reason when it cannot.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from filelock import FileLock
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

from pipeline.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ENSURE_CHROMIUM = PROJECT_ROOT / "scripts" / "ensure-chromium.sh"
INSTALL_TIMEOUT_SECONDS = 600


def _ensure_chromium() -> str | None:
    """Install chromium and chromedriver if missing (once, whichever worker comes first);
    return why they are still missing, or None when both are there."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    with FileLock(str(Path(tempfile.gettempdir()) / "ltv-ensure-chromium.lock")):
        if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
            result = subprocess.run(
                [str(ENSURE_CHROMIUM)],
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_SECONDS,
                check=False,
            )
            if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
                output = (result.stdout + result.stderr).strip()[-1000:]
                return f"{ENSURE_CHROMIUM.name} could not install them: {output}"
    return None


@contextmanager
def chromium(work_dir: Path, page_load_timeout: float) -> Iterator[WebDriver]:
    """A headless chromium with a fresh profile under `work_dir` and the browser console logged
    (`driver.get_log("browser")`); skips the test when chromium cannot be installed. On exit it
    saves what the last page looked like (`work_dir/last-page.png`) and quits."""
    missing = _ensure_chromium()
    if missing:
        pytest.skip(f"no {CHROMIUM} and {CHROMEDRIVER}: {missing}")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={work_dir / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(str(CHROMEDRIVER), log_output=str(work_dir / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(page_load_timeout)
    try:
        yield driver
    finally:
        driver.save_screenshot(str(work_dir / "last-page.png"))  # what a failure looked like
        driver.quit()

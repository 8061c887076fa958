"""The published ASV dashboard (``reports/asv/html``) in a real browser: Debian's headless
Chromium driven by Selenium with Debian's chromedriver (nothing downloads a browser).

The site is served on localhost; the test waits for the benchmark grid, opens a known
benchmark, checks that its graph is drawn from data (a flot canvas of real size, no "No data"
notice, no error dialog, no severe console error) and saves a screenshot of it to
``reports/asv/dashboard.png``. Without Chromium the test fails under CI (``.ci/run`` installs
it) and is skipped elsewhere with the command that installs it.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "reports" / "asv" / "html"
SCREENSHOT = ROOT / "reports" / "asv" / "dashboard.png"
KNOWN = "benchmarks.Layer.time_forward_backward"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _need_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).exists() or shutil.which(Path(p).name))]
    if not missing:
        return
    message = (f"missing {', '.join(missing)}: install Debian's browser with "
               "`apt-get install chromium chromium-driver`")
    if os.environ.get("CI") or os.environ.get("NEURONBENCH_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture()
def site_url() -> Iterator[str]:
    assert (SITE / "index.html").is_file(), f"no published dashboard at {SITE}: run `nox -s asv`"
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture()
def browser(tmp_path) -> Iterator[object]:
    _need_browser()
    os.environ.setdefault("SE_OFFLINE", "true")       # Selenium Manager must not look for drivers
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def test_the_published_site_loads_nothing_from_the_internet() -> None:
    """asv's page loads its libraries from CDNs; offline it shows only an error. The published
    site carries them (``suites.performance.asv_vendor``)."""
    from suites.performance.asv_vendor import external_assets

    page = (SITE / "index.html").read_text()
    assert external_assets(page) == []
    for local in __import__("re").findall(r'(?:src|href)="(vendor/[^"]+)"', page):
        assert (SITE / local).is_file(), local


def test_dashboard_lists_benchmarks_and_draws_a_graph(site_url: str, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(site_url)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "a.benchmark-container")))
    links = {a.get_attribute("href").split("#", 1)[1]
             for a in browser.find_elements(By.CSS_SELECTOR, "a.benchmark-container")}
    assert KNOWN in links, f"{KNOWN} is not in the benchmark grid: {sorted(links)}"
    assert {"benchmarks.Layer.peakmem_forward_backward", "benchmarks.QuickAccuracy.track_error"} <= links

    browser.find_element(By.CSS_SELECTOR, f'a.benchmark-container[href="#{KNOWN}"]').click()
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#graph-display")))
    canvas = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#main-graph canvas")))
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#main-graph canvas").size["width"] > 200)
    assert canvas.size["height"] > 100
    graph_text = browser.find_element(By.CSS_SELECTOR, "#main-graph").text
    assert "No data" not in graph_text, graph_text
    assert not browser.find_element(By.CSS_SELECTOR, "#error").is_displayed(), \
        browser.find_element(By.CSS_SELECTOR, "#error-message").text
    # flot draws the series on a canvas: count the pixels that are not background
    drawn = browser.execute_script(
        "const c = document.querySelector('#main-graph canvas.flot-base') ||"
        " document.querySelector('#main-graph canvas');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 0; i < d.length; i += 4) { if (d[i+3] > 0 && (d[i] < 200 || d[i+1] < 200)) n++; }"
        "return n;")
    assert drawn > 500, f"the graph canvas is (nearly) empty: {drawn} drawn pixels"
    severe = [e for e in browser.get_log("browser")
              if e["level"] == "SEVERE" and "favicon" not in e["message"]]
    assert not severe, severe
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))

"""The built site in headless Chromium (Debian's chromium and chromium-driver): the math is
rendered, every image loads, the console stays clean, and nothing comes from the network.
Screenshots go to ``docs-screenshots/`` (git-ignored)."""

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

PAGES = (
    "index.html",
    "tutorials/gradients.html",
    "tutorials/baseline.html",
    "tutorials/lambda_search.html",
    "tutorials/ablation.html",
    "tutorials/custom_layer.html",
    "reference/cli.html",
    "reference/config.html",
    "reference/api.html",
    "results/index.html",
    "speed/index.html",
)
SHOTS = Path(__file__).resolve().parents[2] / "docs-screenshots"
RAW_MATH = re.compile(r"\\frac|\\partial|\\\(|\\\[|\$[^$\n]*\\[A-Za-z]+[^$\n]*\$")
#: MathJax 2's HTML-CSS output declares a placeholder font at about:blank to detect when its
#: web fonts have loaded; Chromium logs the refused load, which changes nothing on the page.
MATHJAX_BLANK_FONT = re.compile(r"^(?:\S+ - Access to font at 'about:blank'|about:blank - Failed)")
EXTERNAL = re.compile(r"<(?:script|link)[^>]*(?:src|href)=\"(?:https?:)?//", re.I)


def _browser_paths() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@pytest.fixture(scope="module")
def browser():
    paths = _browser_paths()
    if paths is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "chromium and chromedriver are required in CI "
                "(apt-get install chromium chromium-driver)"
            )
        pytest.skip(
            "chromium or chromedriver not installed (apt-get install chromium chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(paths[1]))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def served(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_no_page_loads_scripts_or_styles_from_the_network(site):
    for page in site.rglob("*.html"):
        found = EXTERNAL.search(page.read_text(encoding="utf-8"))
        assert found is None, (page, found and found.group(0))


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_in_chromium(browser, served, page):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{served}/{page}")
    WebDriverWait(browser, 60).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && (!window.MathJax || !MathJax.Hub"
            " || (MathJax.Hub.queue.pending === 0 && MathJax.Hub.queue.running === 0"
            " && [...document.querySelectorAll('.arithmatex')]"
            ".every(e => e.querySelector('.MathJax, .MathJax_Display'))))"
        )
    )
    text = browser.execute_script("return document.querySelector('article').innerText")
    assert not RAW_MATH.search(text), RAW_MATH.search(text).group(0)
    broken = browser.execute_script(
        "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
        ".map(i => i.src)"
    )
    assert broken == []
    severe = [
        e
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and not MATHJAX_BLANK_FONT.match(e["message"])
    ]
    assert severe == []
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(max(height, 800), 12000))
    SHOTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(SHOTS / (page.replace("/", "-").removesuffix(".html") + ".png")))
    browser.set_window_size(1280, 2000)

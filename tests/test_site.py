"""The built site in a real headless Chromium, with no network: charts drawn, citations resolved,
nothing fetched from anywhere but the site itself."""

import csv
import functools
import http.server
import io
import json
import os
import shutil
import threading

import pytest

# one xdist worker runs the whole group: they share a session fixture (the built book, or the Colab venv)
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("book")]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
if CHROMIUM is None and os.environ.get("CI"):
    raise RuntimeError("CI must install Debian's chromium for the browser tests (see .ci/run)")
if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(built_book):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(built_book / "_build" / "html"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


def visit(browser, url):
    """Open a page; return it with every console error, failed request and off-site request seen."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = {"errors": [], "failed": [], "offsite": []}
    origin = url.split("/", 3)[:3]
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("requestfailed", lambda r: seen["failed"].append(r.url))
    page.on("response", lambda r: seen["failed"].append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on(
        "request",
        lambda r: (
            seen["offsite"].append(r.url)
            if r.url.split("/", 3)[:3] != origin and not r.url.startswith("data:")
            else None
        ),
    )
    page.goto(url, wait_until="load")  # "networkidle" can fire before a long page is parsed on a busy machine
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.atlas-chart')).every(c => c.querySelector('svg.marks'))", timeout=15000
    )
    return page, seen


@pytest.mark.parametrize("path", ["book/quantization.html", "book/intro.html"])
def test_page_draws_its_charts_offline(browser, site, path):
    page, seen = visit(browser, f"{site}/{path}")
    charts = page.locator(".atlas-chart")
    assert charts.count() >= 1
    marks = page.evaluate("""Array.from(document.querySelectorAll('.atlas-chart')).map(c =>
        c.querySelectorAll('svg.marks path, svg.marks circle, svg.marks rect, svg.marks .mark-symbol path').length)""")
    assert all(m > 0 for m in marks), f"a chart drew nothing: {marks}"
    assert seen == {"errors": [], "failed": [], "offsite": []}
    page.close()


def test_quantization_page_citations_and_colab(browser, site):
    page, _ = visit(browser, f"{site}/book/quantization.html")
    refs = page.evaluate("""Array.from(document.querySelectorAll('a.footnote-reference')).map(a =>
        [a.getAttribute('href'), !!document.getElementById(a.getAttribute('href').slice(1))])""")
    assert len(refs) >= 25, "the papers table should cite every paper of the chapter"
    assert all(ok for _, ok in refs), [h for h, ok in refs if not ok]
    bibliography = page.locator("aside.footnote").all_inner_texts()
    assert any("Frantar" in entry and "GPTQ" in entry for entry in bibliography)
    colab = page.locator("a[href*='colab.research.google.com']")
    assert colab.count() >= 1
    assert colab.first.get_attribute("href").endswith("/blob/main/book/quantization.ipynb")
    page.close()


def test_chart_tooltip_names_the_paper(browser, site):
    page, _ = visit(browser, f"{site}/book/quantization.html")
    point = page.locator(".atlas-chart").nth(1).locator("svg.marks .mark-symbol path").first
    point.hover(force=True)  # points may overlap: whichever is on top shows its tooltip
    page.wait_for_selector("#vg-tooltip-element.visible")
    tooltip = page.locator("#vg-tooltip-element").inner_text()
    assert "paper" in tooltip and "where in paper" in tooltip
    page.close()


def test_downloads_and_whats_new(browser, site):
    page, seen = visit(browser, f"{site}/book/downloads.html")
    hrefs = page.evaluate("Array.from(document.querySelectorAll('.atlas-downloads a')).map(a => a.href)")
    downloads = [h for h in hrefs if "/downloads/" in h]
    assert len(downloads) == 7
    for href in downloads:
        response = page.request.get(href)
        assert response.status == 200 and len(response.body()) > 100, href
        body = response.body().decode("utf-8")
        if href.endswith(".csv"):
            rows = list(csv.DictReader(io.StringIO(body)))
            assert rows and rows[0]["atlas_version"], href
        elif href.endswith(".json"):
            json.loads(body)
        else:
            assert body.startswith("@comment{LLM Efficiency Atlas, version"), href
    page.close()
    page, seen = visit(browser, f"{site}/book/whats-new.html")
    text = page.inner_text("main")
    assert "papers were added in the 90 days up to" in text
    assert seen == {"errors": [], "failed": [], "offsite": []}
    page.close()


def test_search_finds_a_paper(browser, site):
    page, _ = visit(browser, f"{site}/search.html?q=GPTQ")
    page.wait_for_selector("#search-results li", timeout=15000)
    assert "Quantization" in page.inner_text("#search-results")
    page.close()


FIT = """() => {
  const article = document.querySelector('article.bd-article');
  const box = article.getBoundingClientRect(), style = getComputedStyle(article);
  const left = box.left + parseFloat(style.paddingLeft), right = box.right - parseFloat(style.paddingRight);
  return {left, right, charts: Array.from(document.querySelectorAll('.atlas-chart')).map(c => {
    const drawn = c.querySelector('svg.marks') || c;
    const r = drawn.getBoundingClientRect();
    return {label: c.getAttribute('aria-label') || '', left: r.left, right: r.right, width: r.width};
  })};
}"""


def test_every_chart_on_every_page_fits_the_column_and_has_a_text_alternative(browser, site, built_book):
    pages = sorted(
        p.relative_to(built_book / "_build" / "html") for p in (built_book / "_build" / "html" / "book").glob("*.html")
    )
    checked = 0
    for path in pages:
        page, seen = visit(browser, f"{site}/{path}")
        layout = page.evaluate(FIT)
        assert 600 < layout["right"] - layout["left"] < 760, f"{path}: unexpected column {layout}"
        for chart in layout["charts"]:
            assert chart["left"] >= layout["left"] - 1 and chart["right"] <= layout["right"] + 1, (
                f"{path}: chart {chart['label']!r} is {chart['width']:.0f} px wide, spanning {chart['left']:.0f}-"
                f"{chart['right']:.0f} px, outside the column {layout['left']:.0f}-{layout['right']:.0f} px"
            )
            assert len(chart["label"]) > 10, f"{path}: a chart has no text alternative"
            checked += 1
        assert seen == {"errors": [], "failed": [], "offsite": []}, f"{path}: {seen}"
        page.close()
    assert checked >= 5

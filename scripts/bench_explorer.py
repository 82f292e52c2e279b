"""How the paper explorer copes with a large dataset: page bytes and the time one filter takes.

    python scripts/bench_explorer.py [N]     (default 5000 papers)

Generates a dataset of N papers (the real ones plus synthetic ones, as bench_dataset.py does),
writes the explorer's HTML for it beside the site's own script, opens it in headless Chromium and
times, in the page, typing a search word and choosing a chapter (the median of several tries), and
reports the bytes of the page and of its data.
"""

import http.server
import shutil
import statistics
import sys
import tempfile
import threading
from pathlib import Path

from bench_dataset import generate

from atlas import data, explorer

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

MEASURE = """async ([word, chapter]) => {
  const root = document.querySelector('.atlas-explorer');
  const q = root.querySelector('input[name=q]'), ch = root.querySelector('select[name=chapter]');
  const times = [], shown = [];
  for (let i = 0; i < 7; i++) {
    let t = performance.now();
    q.value = i % 2 ? word : ''; q.dispatchEvent(new Event('input'));
    times.push(performance.now() - t);
    t = performance.now();
    ch.value = i % 2 ? chapter : ''; ch.dispatchEvent(new Event('change'));
    times.push(performance.now() - t);
    shown.push(+root.getAttribute('data-shown'));
  }
  return {times, filtered: Math.min(...shown)};
}"""


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, n)
        shutil.copytree(REPO / "book", root / "book", ignore=shutil.ignore_patterns("*.ipynb"))
        ds = data.load(root)
        html = explorer.papers(ds).data
        page = root / "site" / "explorer.html"
        page.parent.mkdir()
        shutil.copy(REPO / "book" / "_static" / "atlas-explorer.js", page.parent)
        page.write_text(f'<!doctype html><meta charset="utf-8"><script src="atlas-explorer.js"></script>{html}')

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(page.parent), **kwargs)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            tab = browser.new_page()
            tab.goto(f"http://127.0.0.1:{server.server_address[1]}/explorer.html")
            tab.wait_for_selector(".atlas-paper")
            result = tab.evaluate(MEASURE, ["attention", "inference"])
            browser.close()
        server.shutdown()
        payload = len(html.encode())
        print(
            f"{len(ds.papers)} papers: explorer page {payload / 1e6:.2f} MB of HTML and data "
            f"({payload / len(ds.papers):.0f} bytes per paper); a filter or search takes "
            f"{statistics.median(result['times']):.1f} ms (median of {len(result['times'])}, "
            f"max {max(result['times']):.1f} ms); searching 'attention' within the Efficient inference chapter "
            f"leaves {result['filtered']} papers"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

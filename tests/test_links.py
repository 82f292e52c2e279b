"""The link checker finds dead links and names where they are, against a local server."""

import functools
import http.server
import threading

import pytest

from atlas.dataset import links


@pytest.fixture
def server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200 if self.path == "/ok" else 405 if self.path == "/nohead" else 404)
            self.end_headers()

        def do_GET(self):
            self.send_response(200 if self.path in ("/ok", "/nohead") else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_dead_links_are_reported_with_file_and_line(tmp_path, monkeypatch, server):
    (tmp_path / "bib").mkdir()
    (tmp_path / "data" / "papers").mkdir(parents=True)
    (tmp_path / "bib" / "papers.bib").write_text(
        f"@misc{{alive2024paper,\n  title = {{Alive}},\n  url = {{{server}/ok}},\n}}\n\n"
        f"@misc{{gone2024paper,\n  title = {{Gone}},\n  url = {{{server}/missing}},\n}}\n"
    )
    (tmp_path / "data" / "papers" / "alive2024paper.yaml").write_text(f"key: alive2024paper\ncode: {server}/nohead\n")
    monkeypatch.setenv("ATLAS_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    found = links.collect()
    assert [(link.file, link.line) for link in found] == [
        ("bib/papers.bib", 3),
        ("bib/papers.bib", 8),
        ("data/papers/alive2024paper.yaml", 2),
    ]
    problems = [str(p) for p in links.dead(found, timeout=5)]
    assert problems == [f"bib/papers.bib:8: dead link {server}/missing (HTTP 404); fix or remove it"]


def test_unreachable_host_counts_as_dead():
    assert links.status("http://127.0.0.1:9/", timeout=2) == 0

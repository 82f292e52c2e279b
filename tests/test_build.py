"""`python -m atlas build`: strict, offline, and never serving outputs computed from old data."""

import re

import pytest

from conftest import copy_repo, run_atlas

pytestmark = pytest.mark.build

EXECUTED = re.compile(r"(\S+): Executed notebook")


def executed(result) -> set[str]:
    return {path.rsplit("/", 1)[-1] for path in EXECUTED.findall(result.stdout + result.stderr)}


@pytest.fixture
def book(built_book, tmp_path):
    """A private copy of the built book, caches included, to change and rebuild."""
    return copy_repo(tmp_path / "book", with_build=built_book)


def test_clean_build_has_no_warnings(built_book):
    log = (built_book / "build.log").read_text()
    assert "build succeeded" in log
    assert not re.search(r"WARNING|ERROR", log.replace("[IPKernelApp] WARNING | Kernel is running over TCP", "")), log[
        -3000:
    ]
    html = built_book / "_build" / "html"
    assert (html / "book" / "quantization.html").exists() and (html / "_static" / "vega" / "atlas-vega.js").exists()


def test_noop_rebuild_executes_nothing(book):
    result = run_atlas("build", cwd=book)
    assert result.returncode == 0, result.stdout[-3000:]
    assert executed(result) == set()


def test_editing_a_number_reruns_the_chapter_and_changes_the_chart(book):
    page = book / "_build" / "html" / "book" / "quantization.html"
    assert '"value":6.09' in page.read_text()
    record = book / "data" / "papers" / "frantar2022gptq.yaml"
    record.write_text(record.read_text().replace("value: 6.09", "value: 6.19"))
    result = run_atlas("build", cwd=book)
    assert result.returncode == 0, result.stdout[-3000:]
    assert {"quantization.ipynb", "intro.md"} <= executed(result)
    html = page.read_text()
    assert '"value":6.19' in html and '"value":6.09' not in html
    assert '"increase":0.51' in html  # the derived point moved too


def test_a_failing_cell_fails_the_build(book):
    notebook = book / "book" / "quantization.ipynb"
    text = notebook.read_text()
    broken = text.replace(
        '"from atlas import charts, data, tables\\n",',
        '"from atlas import charts, data, tables\\n",\n    "raise RuntimeError(\\"deliberately broken cell\\")\\n",',
        1,
    )
    assert broken != text
    notebook.write_text(broken)
    result = run_atlas("build", cwd=book)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "deliberately broken cell" in output and "quantization.ipynb" in output


def test_a_missing_citation_fails_the_build(book):
    intro = book / "book" / "intro.md"
    intro.write_text(
        intro.read_text().replace(
            "## How to read a chapter", "See {footcite:p}`nosuch2020paper`.\n\n## How to read a chapter"
        )
    )
    result = run_atlas("build", cwd=book)
    assert result.returncode != 0
    assert "nosuch2020paper" in result.stdout + result.stderr


def test_malformed_yaml_stops_the_build_before_it_starts(book):
    record = book / "data" / "papers" / "lin2023awq.yaml"
    record.write_text(record.read_text().replace("kind: method", "kind: [method"))
    result = run_atlas("build", cwd=book)
    assert result.returncode == 1
    assert re.search(r"^data/papers/lin2023awq\.yaml:\d+: YAML syntax error", result.stdout, re.MULTILINE), (
        result.stdout
    )
    assert "the book was not built" in result.stderr

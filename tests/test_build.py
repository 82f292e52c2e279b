"""`python -m atlas build`: strict, offline, and never serving outputs computed from old data."""

import json
import re

import pytest
import yaml

from atlas.dataset import taxonomy as taxonomy_mod

from conftest import restore_built_book, run_atlas

# one xdist worker runs the whole group: they share a session fixture (the built book, or the Colab venv)
pytestmark = [pytest.mark.build, pytest.mark.xdist_group("book")]

EXECUTED = re.compile(r"atlas: executed (\S+) in")


def executed(result) -> set[str]:
    """The pages the build executed (its own parallel executor; myst-nb must only read the cache)."""
    output = result.stdout + result.stderr
    assert "Executing notebook" not in output, "myst-nb executed a page itself: its cache key did not match"
    return {page.rsplit("/", 1)[-1] for page in EXECUTED.findall(output)}


def whole_dataset_pages(book) -> set[str]:
    """The pages whose last run read the whole dataset (intro, what's new, the explorer, ...)."""
    records = json.loads((book / "_build" / ".jupyter_cache.atlas-pages.json").read_text())["pages"]
    return {d.rsplit("/", 1)[-1] for d, r in records.items() if ["dataset", "all"] in [x[:2] for x in r["reads"]]}


def claims_of(book) -> dict[str, dict]:
    ledger = json.loads((book / "_build" / "html" / "downloads" / "claims.json").read_text())
    return {f"{c['page']}/{c['id']}": c for c in ledger}


@pytest.fixture
def book(built_book):
    """The built book, caches included, to change and rebuild; put back as built afterwards. It is
    changed where it was built, not in a copy elsewhere: Sphinx discards its whole environment when
    the source folder moves, and every rebuild of a copy would re-read every page."""
    yield built_book
    restore_built_book(built_book)


def test_clean_build_has_no_warnings(built_book):
    log = (built_book / "build.log").read_text()
    assert "build succeeded" in log
    assert not re.search(r"WARNING|ERROR", log.replace("[IPKernelApp] WARNING | Kernel is running over TCP", "")), log[
        -3000:
    ]
    html = built_book / "_build" / "html"
    assert (html / "book" / "quantization.html").exists() and (html / "_static" / "vega" / "atlas-vega.js").exists()
    assert not (html / "book" / "quantization.ipynb.html").exists(), "the generated notebook was built as a page"


def test_noop_rebuild_executes_nothing(book):
    result = run_atlas("build", cwd=book)
    assert result.returncode == 0, result.stdout[-3000:]
    assert executed(result) == set()


def test_editing_a_number_reruns_only_the_pages_that_read_it(book):
    page = book / "_build" / "html" / "book" / "quantization.html"
    assert '"value":6.09' in page.read_text()
    assert claims_of(book)["book/quantization/int4-perplexity-cost"]["reported"]["value"] == 6.09
    record = book / "data" / "papers" / "frantar2022gptq.yaml"
    record.write_text(record.read_text().replace("value: 6.09", "value: 6.19"))
    result = run_atlas("build", cwd=book, env={"ATLAS_ROOT": ""})  # the tree's own data, not the install's
    assert result.returncode == 0, result.stdout[-3000:]
    whole = whole_dataset_pages(book)
    assert {"intro", "whats-new", "papers"} <= whole
    assert executed(result) == {"quantization"} | whole  # its chapter and the pages that read everything
    html = page.read_text()
    assert '"value":6.19' in html and '"value":6.09' not in html
    assert '"increase":0.51' in html  # the derived point moved too
    assert claims_of(book)["book/quantization/int4-perplexity-cost"]["reported"]["value"] == 6.19


def test_a_paper_of_another_chapter_leaves_this_chapter_alone(book):
    key = "kwon2023efficient"  # vLLM: a serving paper
    record = book / "data" / "papers" / f"{key}.yaml"
    record.write_text(record.read_text().replace("summary: >-\n", "summary: >-\n  Edited.\n", 1))
    chapters = {topic.chapter for topic in taxonomy_mod.load(book / "data" / "taxonomy.yaml").topics.values()
                if topic.id in yaml.safe_load(record.read_text())["topics"]}  # fmt: skip
    affected = {"all", f"paper:{key}", *(f"chapter:{c}" for c in chapters)}
    records = json.loads((book / "_build" / ".jupyter_cache.atlas-pages.json").read_text())["pages"]
    readers = {
        d.rsplit("/", 1)[-1] for d, r in records.items() if {n for k, n, _ in r["reads"] if k == "dataset"} & affected
    }
    result = run_atlas("build", cwd=book)
    assert result.returncode == 0, result.stdout[-3000:]
    ran = executed(result)
    assert ran == readers and "quantization" not in ran and whole_dataset_pages(book) <= ran


def test_an_edited_entry_is_shown_where_the_prose_cites_it(book):
    """A page that cites a paper in its text without reading it from the dataset is re-read, not
    re-executed, when the paper's BibTeX changes; pages that neither read nor cite it are left alone."""
    records = json.loads((book / "_build" / ".jupyter_cache.atlas-pages.json").read_text())["pages"]
    tax = taxonomy_mod.load(book / "data" / "taxonomy.yaml")
    chapter_of = {t.id: t.chapter for t in tax.topics.values()}

    def reads_it(record, key):
        topics = yaml.safe_load((book / "data" / "papers" / f"{key}.yaml").read_text())["topics"]
        slices = {"all", f"paper:{key}", *(f"chapter:{chapter_of[t]}" for t in topics)}
        return bool({n for k, n, _ in record["reads"] if k == "dataset"} & slices)

    cited = re.compile(r"\{footcite(?::[pt])?\}`([^`]+)`")
    page, key = next(
        (d, k)
        for d, r in sorted(records.items())
        for match in cited.findall((book / f"{d}.md").read_text())
        for k in match.split(",")
        if not reads_it(r, k.strip())
    )
    bib = book / "bib" / "papers.bib"
    text = bib.read_text()
    start = text.index("{" + key + ",")
    title_at = text.index("title", start)
    brace = text.index("{", title_at)
    bib.write_text(text[: brace + 1] + "Retitled " + text[brace + 1 :])
    result = run_atlas("build", cwd=book)
    assert result.returncode == 0, result.stdout[-3000:]
    readers = {d.rsplit("/", 1)[-1] for d, r in records.items() if reads_it(r, key)}
    assert executed(result) == readers and page.rsplit("/", 1)[-1] not in readers
    html = (book / "_build" / "html" / f"{page}.html").read_text()
    assert "Retitled" in html, f"{page} cites {key} but shows its old title"


def test_a_stale_claim_is_gone_after_a_rebuild(book):
    before = claims_of(book)
    assert "book/quantization/int8-weight-memory" in before
    chapter = book / "book" / "quantization.md"
    chapter.write_text(chapter.read_text().replace('"int8-weight-memory"', '"int8-weights-halved"'))
    result = run_atlas("build", cwd=book)
    assert result.returncode == 0, result.stdout[-3000:]
    after = claims_of(book)
    assert "book/quantization/int8-weights-halved" in after and "book/quantization/int8-weight-memory" not in after
    assert len(after) == len(before)
    toc = book / "_toc.yml"
    contents = yaml.safe_load(toc.read_text())
    for part in contents["parts"]:
        part["chapters"] = [c for c in part["chapters"] if c["file"] != "book/quantization"]
    contents["parts"] = [part for part in contents["parts"] if part["chapters"]]
    toc.write_text(yaml.safe_dump(contents, sort_keys=False))
    result = run_atlas("build", cwd=book)
    assert result.returncode == 0, result.stdout[-3000:]
    assert not [c for c in claims_of(book) if c.startswith("book/quantization/")], "a removed page's claims survived"


@pytest.mark.parametrize(
    "inserted, named",
    [
        ('raise RuntimeError("deliberately broken cell")\n', ["deliberately broken cell"]),
        ('import warnings\nwarnings.warn("deliberately loud cell")\n', ["deliberately loud cell", "stderr"]),
    ],
    ids=["error", "warning"],
)
def test_a_cell_that_fails_or_warns_fails_the_build(book, inserted, named):
    chapter = book / "book" / "quantization.md"
    text = chapter.read_text()
    changed = text.replace(
        "from atlas import charts, data, tables\n", "from atlas import charts, data, tables\n" + inserted, 1
    )
    assert changed != text
    chapter.write_text(changed)
    result = run_atlas("build", cwd=book)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "quantization.md" in output and all(n in output for n in named)


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

"""Chapters as readers and instructors get them: committed clean, executed top to bottom in a fresh
kernel, and runnable in (simulated) Colab, where the first cell fetches the Atlas."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from atlas.book import colab, notebooks

from conftest import REPO, copy_repo

TOC = yaml.safe_load((REPO / "_toc.yml").read_text())
PAGES = [TOC["root"]] + [c["file"] for part in TOC["parts"] for c in part["chapters"]]
SOURCES = notebooks.chapter_sources(REPO)  # book/<chapter>.md, what the book builds
CHAPTERS = [source.with_suffix(".ipynb") for source in SOURCES]  # what Colab opens


def execute(nb, cwd: Path, env: dict | None = None):
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    saved = dict(os.environ)
    # the kernel imports the atlas of this tree, wherever the environment's editable install points
    # one thread, as the build gives each of its parallel kernels on two cores: tiny models gain
    # nothing from a second thread, and on a loaded machine threads waiting for each other thrash
    os.environ.update({"PYTHONPATH": str(REPO), "ATLAS_ROOT": str(REPO), "OMP_NUM_THREADS": "1", **(env or {})})
    os.environ.pop("ATLAS_BOOK_BUILD", None)
    try:
        return client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_every_page_in_the_toc_exists():
    for page in PAGES:
        assert (REPO / f"{page}.md").exists(), f"{page}.md (chapters are MyST Markdown; the .ipynb is generated)"
    assert SOURCES, "no chapter sources found"
    assert {f"book/{s.stem}" for s in SOURCES} <= set(PAGES), "every chapter source should be in _toc.yml"


def test_colab_notebooks_are_generated_from_the_markdown():
    differed = notebooks.sync(REPO, check=True)
    assert not differed, f"{[p.name for p in differed]} differ from their .md: run `python -m atlas notebooks`"


def test_drift_is_detected(tmp_path):
    (tmp_path / "book").mkdir()
    for name in ("data",):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("models", "corpora"))
    source = tmp_path / "book" / "quantization.md"
    source.write_text((REPO / "book" / "quantization.md").read_text())
    assert notebooks.sync(tmp_path) == [source.with_suffix(".ipynb")]  # written
    assert notebooks.sync(tmp_path, check=True) == []  # and stable
    source.write_text(source.read_text().replace("# Quantization", "# Quantisation", 1))
    assert notebooks.sync(tmp_path, check=True) == [source.with_suffix(".ipynb")]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_with_the_setup_cell(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not [c for c in code if c.get("outputs") or c.get("execution_count")], "strip the outputs before committing"
    first = nb["cells"][0]
    assert "".join(first["source"]) == colab.setup_cell(), (
        "the first cell must be atlas.book.colab.setup_cell() exactly"
    )
    assert first["metadata"].get("tags") == colab.TAGS


# Each chapter runs top to bottom in a fresh kernel, with no error and nothing on stderr, in the
# build (atlas.book.execute refuses either; tests/test_build.py) and again, alone, in the
# Colab-like environment (tests/test_colab.py); running it a third time here bought nothing.


def test_intro_runs():
    nb = jupytext.read(REPO / "book" / "intro.md")
    execute(nb, cwd=REPO / "book")


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """A repository to clone, made from this working copy (so uncommitted work is what is tested)."""
    origin = copy_repo(tmp_path_factory.mktemp("origin"))
    for name in ("README.md", "LICENSE"):
        (origin / name).write_text((REPO / name).read_text())
    subprocess.run(
        "git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm snapshot",
        shell=True,
        cwd=origin,
        check=True,
    )
    return origin


def test_colab_setup_clones_installs_and_the_chapter_runs(origin, tmp_path):
    """The setup cell in simulated Colab with pip as a dry run, so it needs no package index: the
    quick check for a machine without one. Every chapter, installed for real into Colab's
    versions, is tests/test_colab.py."""
    chapter = REPO / "book" / "quantization.ipynb"
    # Colab's kernel has google.colab imported; a stand-in module is enough for the setup cell
    fake = tmp_path / "fake_colab" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake.parent / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("IN_COLAB_STANDIN = True\n")
    content = tmp_path / "content"
    content.mkdir()
    env = {
        "PYTHONPATH": str(tmp_path / "fake_colab"),
        "ATLAS_ROOT": "",  # as in Colab: the Atlas is found through the clone the setup cell makes
        "ATLAS_REPO_URL": origin.as_uri(),
        # the cell's pip install runs for real but as a dry run, so this test leaves the environment alone
        "PIP_DRY_RUN": "1",
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
    }
    nb = nbformat.read(chapter, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import google.colab"))
    nb.cells.append(
        nbformat.v4.new_code_cell("import atlas.data; print(atlas.data.__file__); print(len(atlas.data.load().papers))")
    )
    nb = execute(nb, cwd=content, env=env)
    clone = content / "llm-efficiency-atlas"
    assert (clone / "bib" / "papers.bib").exists(), "the setup cell did not clone the repository"
    printed = "".join(o.text for o in nb.cells[-1].outputs if o.output_type == "stream").split()
    assert Path(printed[0]).resolve().is_relative_to(clone.resolve()), "the chapter did not use the cloned Atlas"
    assert int(printed[1]) == len(list((REPO / "data" / "papers").glob("*.yaml")))


def test_setup_cell_does_nothing_outside_colab(tmp_path):
    result = subprocess.run([sys.executable, "-c", colab.setup_cell()], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0 and list(tmp_path.iterdir()) == []


def test_setup_cell_uses_the_configured_repository():
    url = yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["url"]
    assert f'"{url}"' in colab.setup_cell()

"""Each chapter as an instructor gets it in Colab: the notebook alone in an empty folder, a Python
environment with Colab's preinstalled versions (tests/colab/requirements.txt), the setup cell
cloning the Atlas and installing what is missing, then the whole chapter top to bottom; and
afterwards every preinstalled version is still the one Colab had."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from packaging.version import Version

import colab_venv
from conftest import REPO, copy_repo
from test_notebooks import CHAPTERS

# one xdist worker runs the whole group: they share a session fixture (the built book, or the Colab venv)
pytestmark = [pytest.mark.colab, pytest.mark.xdist_group("colab")]

PINS = colab_venv.PINS


def pinned() -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in PINS.read_text().splitlines()]
    return dict(line.split("==") for line in lines if line)


def installed(python: Path) -> dict[str, str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    return {name.lower(): version for name, version in (line.split("==") for line in out.split() if "==" in line)}


@pytest.fixture(scope="session")
def colab_python() -> Path:
    return colab_venv.ensure()


@pytest.fixture(scope="session")
def origin(tmp_path_factory) -> Path:
    origin = copy_repo(tmp_path_factory.mktemp("colab-origin"))
    for name in ("README.md", "LICENSE"):
        shutil.copy(REPO / name, origin / name)
    subprocess.run("git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm snapshot",
                   shell=True, cwd=origin, check=True)  # fmt: skip
    return origin


def public(version: str | None) -> str | None:
    """The version without its local label: the CPU wheel of torch 2.13.0 calls itself 2.13.0+cpu."""
    return version and Version(version).public


def test_the_pins_are_colabs(colab_python):
    have = installed(colab_python)
    for name, version in pinned().items():
        got = have.get(name.lower())
        assert public(got) == public(version), f"{name}: {got} instead of Colab's {version}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_in_a_colab_like_runtime(chapter, colab_python, origin, tmp_path):
    before = installed(colab_python)
    # a kernel that runs the Colab-like interpreter, with google.colab importable as in Colab
    kernels = tmp_path / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    spec = {"argv": [str(colab_python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Colab-like", "language": "python"}  # fmt: skip
    (kernels / "kernel.json").write_text(json.dumps(spec))
    fake = tmp_path / "fake_colab" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake.parent / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    content = tmp_path / "content"  # Colab's working folder: the notebook alone
    content.mkdir()
    shutil.copy(chapter, content / chapter.name)
    nb = nbformat.read(content / chapter.name, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import google.colab"))
    nb.cells.append(nbformat.v4.new_code_cell("import atlas; print(atlas.__file__)"))
    env = {
        "JUPYTER_PATH": str(tmp_path / "jupyter"),
        "PYTHONPATH": str(tmp_path / "fake_colab"),
        "ATLAS_REPO_URL": origin.as_uri(),
        "ATLAS_ROOT": "",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    saved = dict(os.environ)
    os.environ.update(env)
    for name in ("ATLAS_BOOK_BUILD", "VIRTUAL_ENV"):
        os.environ.pop(name, None)
    try:
        NotebookClient(nb, timeout=600, kernel_name="colab", resources={"metadata": {"path": str(content)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert str(content / "llm-efficiency-atlas") in printed, "the chapter did not run on the clone the setup cell made"
    code = [c for c in nb.cells if c.cell_type == "code"][
        2:
    ]  # after the stand-in import and the setup cell (pip's own chatter)
    stderr = [o.text for c in code for o in c.outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"a chapter should print no warnings: {stderr}"
    after = installed(colab_python)
    for name in pinned():
        assert after.get(name.lower()) == before.get(name.lower()), f"the setup cell changed Colab's {name}"

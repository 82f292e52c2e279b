"""Shared fixtures: throwaway copies of the dataset or the whole repository, and the CLI."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# what a copy of the repository needs to build (everything git tracks would do; this is faster)
BOOK_FILES = ["_config.yml", "_toc.yml", "book", "bib", "data", "atlas", "pyproject.toml", "CONTRIBUTING.md"]


def copy_repo(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in BOOK_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy(source, target / name)
    return target


@pytest.fixture
def dataset(tmp_path, monkeypatch) -> Path:
    """A copy of the dataset (bib/ and data/) as the working directory, with ATLAS_ROOT pointing at it."""
    for name in ("bib", "data"):
        shutil.copytree(REPO / name, tmp_path / name)
    monkeypatch.setenv("ATLAS_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_atlas(*args, cwd: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m atlas ...` as a user runs it, in `cwd` (ATLAS_ROOT set to it unless `env` says otherwise)."""
    environment = {**os.environ, "ATLAS_ROOT": str(cwd), **(env or {})}
    environment.pop("ATLAS_BOOK_BUILD", None)
    return subprocess.run(
        [sys.executable, "-m", "atlas", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """A copy of the repository built once with `python -m atlas build --clean` (shared: a test that
    changes it must put it back with `restore_built_book`)."""
    root = copy_repo(tmp_path_factory.mktemp("book") / "atlas")
    result = run_atlas("build", "--clean", cwd=root)
    assert result.returncode == 0, f"clean build failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    (root / "build.log").write_text(result.stdout + result.stderr)
    shutil.copytree(root, root.parent / "as-built", symlinks=True)  # copy2 keeps the times Sphinx compares
    return root


def restore_built_book(root: Path) -> None:
    shutil.rmtree(root)
    shutil.copytree(root.parent / "as-built", root, symlinks=True)


@pytest.fixture(scope="module")
def one_torch_thread():
    """As in the chapters: models this small run fastest on one thread (and a busy machine's cores
    are not thrashed). Modules that time or decode with the lab's models use it."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

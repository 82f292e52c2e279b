"""The first cell of every chapter: it does nothing locally, and in Colab it fetches the Atlas.

In Colab there is no data/ beside the notebook, so the cell clones the repository, installs the
package (Colab already has pandas, altair and torch, so only the few missing pieces are fetched)
and puts the clone first on sys.path, after which the chapter runs unchanged. The repository's
address comes from _config.yml, the one place it is written; tests check every chapter's first
cell against `setup_cell()`. ATLAS_REPO_URL points it at a fork (or, in tests, a local clone).
"""

from pathlib import Path

import yaml

from atlas import paths

TAGS = ["remove-cell"]  # the site hides the cell; Colab and Jupyter show it

_TEMPLATE = """# Setup for Colab: fetch the Atlas (code and data) and install what Colab lacks. Does nothing elsewhere.
import os, subprocess, sys
if "google.colab" in sys.modules and not os.path.isdir("llm-efficiency-atlas"):
    repo = os.environ.get("ATLAS_REPO_URL", "{url}")
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", repo, "llm-efficiency-atlas"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", "llm-efficiency-atlas[demos]"], check=True)
if os.path.isdir("llm-efficiency-atlas"):
    sys.path.insert(0, os.path.abspath("llm-efficiency-atlas"))"""


def repository_url(config: Path | None = None) -> str:
    config = Path(config or paths.root() / "_config.yml")
    return yaml.safe_load(config.read_text(encoding="utf-8"))["repository"]["url"]


def setup_cell(url: str | None = None) -> str:
    return _TEMPLATE.format(url=url or repository_url())

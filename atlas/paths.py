"""Where the dataset lives.

The package is installed editable from a clone of the repository, so the data sits next to it:
the same loader works in a clone, in CI and in Colab. ATLAS_ROOT overrides that (tests point it
at fixture datasets).
"""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def root() -> Path:
    override = os.environ.get("ATLAS_ROOT")
    return Path(override).resolve() if override else PACKAGE_DIR.parent


def bib_file(base: Path | None = None) -> Path:
    return (base or root()) / "bib" / "papers.bib"


def papers_dir(base: Path | None = None) -> Path:
    return (base or root()) / "data" / "papers"


def taxonomy_file(base: Path | None = None) -> Path:
    return (base or root()) / "data" / "taxonomy.yaml"


def schema_file(base: Path | None = None) -> Path:
    return (base or root()) / "data" / "schema" / "paper.schema.json"


def relative(path: Path) -> str:
    """A path as a reader should see it in a message: relative to the working directory when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)

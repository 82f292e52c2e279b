"""Chapters are written as MyST Markdown; the notebooks Colab opens are generated from them.

`book/<chapter>.md` is the source: it reads as text in a pull request, and it is what the book
builds. `book/<chapter>.ipynb` is generated from it (no outputs, the same cells), committed so that
Colab can open the chapter straight from the repository, and paired with the Markdown by jupytext
metadata, so editing either one in Jupyter with jupytext keeps both in step.

    python -m atlas notebooks          # regenerate every chapter's .ipynb from its .md
    python -m atlas notebooks --check  # report any .ipynb that differs from its .md (CI runs this)
"""

import hashlib
from pathlib import Path

import jupytext
import nbformat

from atlas import paths

PAIRING = "ipynb,md:myst"


def chapter_sources(root: Path | None = None) -> list[Path]:
    """book/<id>.md for every taxonomy chapter that has one, in the taxonomy's order."""
    from atlas.dataset import taxonomy as taxonomy_mod

    root = Path(root or paths.root())
    taxonomy = taxonomy_mod.load(paths.taxonomy_file(root))
    found = [root / "book" / f"{chapter.id}.md" for chapter in taxonomy.chapters]
    return [p for p in found if p.exists()]


def notebook_text(source: Path) -> str:
    """The .ipynb the chapter's Markdown stands for: same cells, no outputs, stable formatting."""
    nb = jupytext.read(source, fmt="md:myst")
    kernelspec = nb.metadata.get("kernelspec", {"display_name": "Python 3", "language": "python", "name": "python3"})
    nb.metadata = nbformat.from_dict(
        {
            "kernelspec": kernelspec,
            "language_info": {"name": "python"},
            "colab": {"provenance": []},
            "jupytext": {"formats": PAIRING},
        }
    )
    cells = []
    for cell in nb.cells:
        metadata = dict(cell.metadata)
        if cell.cell_type == "code":
            cells.append(nbformat.v4.new_code_cell(cell.source, metadata=metadata))
        else:
            cells.append(nbformat.v4.new_markdown_cell(cell.source, metadata=metadata))
    seen: dict[str, int] = {}
    for cell in cells:  # ids from the content, so regenerating gives the same bytes
        base = hashlib.sha1(f"{cell.cell_type}\0{cell.source}".encode()).hexdigest()[:8]
        seen[base] = seen.get(base, 0) + 1
        cell["id"] = base if seen[base] == 1 else f"{base}-{seen[base]}"
    out = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    return nbformat.writes(out, version=4) + "\n"


def sync(root: Path | None = None, check: bool = False) -> list[Path]:
    """Regenerate (or, with check, only compare) every chapter's notebook; return those that differed."""
    differed = []
    for source in chapter_sources(root):
        target = source.with_suffix(".ipynb")
        text = notebook_text(source)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            differed.append(target)
            if not check:
                target.write_text(text, encoding="utf-8")
    return differed


def core_code(source: Path, tag: str = "core") -> dict:
    """Run a chapter's code cells tagged `tag` (the technique, written out in the chapter) in a fresh
    namespace and return it, so pytest can check the chapter's own functions without a kernel.

    Such cells must stand alone: their imports inside them, relying only on earlier tagged cells."""
    nb = jupytext.read(source, fmt="md:myst")
    namespace: dict = {"__name__": f"atlas_chapter_{Path(source).stem}"}
    cells = [c for c in nb.cells if c.cell_type == "code" and tag in c.metadata.get("tags", [])]
    if not cells:
        raise ValueError(f"{source}: no code cell is tagged {tag!r}")
    for cell in cells:
        exec(compile(cell.source, f"{source}:{tag}", "exec"), namespace)  # noqa: S102 - the project's own chapters
    return namespace

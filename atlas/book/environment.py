"""Where a notebook is running: inside the book build, or in Jupyter / Colab.

The build (atlas.book.sphinx_ext) sets ATLAS_BOOK_BUILD=1 for the kernels it starts; outputs that only
the book can render (offline chart HTML, citation roles) are chosen with `in_book_build()`.
"""

import os

BOOK_BUILD_ENV = "ATLAS_BOOK_BUILD"


def in_book_build() -> bool:
    return os.environ.get(BOOK_BUILD_ENV) == "1"


def pages_in_book(root=None) -> set[str]:
    """The docnames the table of contents builds (book/quantization, ...): a page links to another
    only when it is in the book, not merely on disk."""
    from pathlib import Path

    import yaml

    from atlas import paths, reads

    toc = yaml.safe_load((Path(root or paths.root()) / "_toc.yml").read_text(encoding="utf-8"))
    found = {toc["root"]}

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                found.add(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    # a page that links only to pages in the book must be re-executed when the book's pages change
    reads.note("toc", "pages")
    return found

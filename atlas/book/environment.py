"""Where a notebook is running: inside the book build, or in Jupyter / Colab.

The build (atlas.book.sphinx_ext) sets ATLAS_BOOK_BUILD=1 for the kernels it starts; outputs that only
the book can render (offline chart HTML, citation roles) are chosen with `in_book_build()`.
"""

import os

BOOK_BUILD_ENV = "ATLAS_BOOK_BUILD"


def in_book_build() -> bool:
    return os.environ.get(BOOK_BUILD_ENV) == "1"

"""What an executing page reads, so the build re-executes a page only when something it read changed.

The loaders call `note()` as they hand data to a page: the dataset (all of it, one chapter's
slice, or one paper's record), the corpus, a trained model, or the list of pages the book builds.
The book build runs each page with ATLAS_READS_LOG naming a file, collects what was noted there,
and fingerprints exactly those things next time (atlas.book.dependencies). Outside the build
nothing is recorded.
"""

import os

LOG_ENV = "ATLAS_READS_LOG"


def note(kind: str, name: str) -> None:
    """Record that the running page read `name` of `kind` ('dataset', 'corpus', 'model' or 'toc')."""
    log = os.environ.get(LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{kind}\t{name}\n")

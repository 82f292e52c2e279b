"""`python -m atlas build`: validate, then build the book strictly with Jupyter Book 1.

Strict means any Sphinx warning, broken citation or failing notebook cell fails the build
(-W -n --keep-going, and nb_execution_raise_on_error in _config.yml). Notebook outputs are reused
from the execution cache while neither a notebook's code nor the data it reads has changed
(atlas.book.sphinx_ext drops the cache when the data does).
"""

import shutil
import subprocess
import sys
import time

from atlas import paths
from atlas.dataset import validate

# Jupyter Book's own command line, run with this interpreter so the build sees this environment
_JUPYTER_BOOK = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]


def build(clean: bool = False) -> int:
    root = paths.root()
    start = time.perf_counter()
    checked = validate.run(root)
    if checked.problems:
        for problem in checked.problems:
            print(problem)
        print(
            f"{len(checked.problems)} problem(s) in the dataset; the book was not built. Fix them and build again.",
            file=sys.stderr,
        )
        return 1
    if clean:
        shutil.rmtree(root / "_build", ignore_errors=True)
    command = [*_JUPYTER_BOOK, "build", str(root), "-W", "-n", "--keep-going"]
    code = subprocess.call(command, cwd=root)
    elapsed = time.perf_counter() - start
    if code == 0:
        print(
            f"Built {paths.relative(root / '_build' / 'html')} in {elapsed:.1f} s: open index.html, or serve it with "
            f"`python -m http.server -d _build/html`.",
            file=sys.stderr,
        )
    else:
        print(
            f"The build failed after {elapsed:.1f} s; the first error above names the page and cell.", file=sys.stderr
        )
    return code

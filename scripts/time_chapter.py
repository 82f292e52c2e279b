"""How long a chapter takes in a fresh kernel, cell by cell: the figure the 20-second budget is about.

    python scripts/time_chapter.py book/inference.md [--threads 2] [--top 8]

Runs the page top to bottom as the build does (ATLAS_ROOT and PYTHONPATH set to this tree) and
prints the total wall time, the kernel's start-up, and the slowest cells with their first line.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="OMP_NUM_THREADS for the kernel")
    parser.add_argument("--top", type=int, default=8, help="how many of the slowest cells to list")
    args = parser.parse_args()
    os.environ.update({"ATLAS_ROOT": str(REPO), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(args.threads)})
    nb = jupytext.read(args.page)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(args.page.parent)}}
    )
    start = time.perf_counter()
    with client.setup_kernel():
        started = time.perf_counter()
        timings = []
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            t = time.perf_counter()
            client.execute_cell(cell, index)
            timings.append(
                (time.perf_counter() - t, index, cell.source.strip().splitlines()[0] if cell.source.strip() else "")
            )
    total = time.perf_counter() - start
    print(
        f"{args.page}: {total:.1f} s in a fresh kernel with {args.threads} thread(s) "
        f"(kernel start {started - start:.1f} s, {len(timings)} code cells)"
    )
    for seconds, index, first in sorted(timings, reverse=True)[: args.top]:
        print(f"  {seconds:6.2f} s  cell {index:>3}: {first[:80]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build times a contributor and CI see: cold, no-op, and after one paper is added to one chapter.

    python scripts/bench_build.py [--standins N] [--jobs J]

Works on a temporary copy of the repository (the working tree is left alone) and runs
`python -m atlas build` three times: from nothing, again with nothing changed, and after adding one
paper to the Quantization chapter through `atlas add` (the contributor's path), which must
re-execute that chapter and the pages that read the whole dataset, and nothing else. With
--standins N, N copies of the Quantization chapter are added to the book first, so the figures
show how the build scales with executed pages before all the chapters exist.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COPY = ["_config.yml", "_toc.yml", "book", "bib", "data", "atlas", "pyproject.toml", "CONTRIBUTING.md"]
NEW_PAPER = """@misc{benchmark2026paper,
  title = {A Benchmark Stand-in Paper on Weight Quantization},
  author = {Doe, Jane and Roe, Richard},
  year = {2026},
  eprint = {2611.00001},
  archivePrefix = {arXiv},
}
"""
EXECUTED = re.compile(r"atlas: executed (\S+) in ([0-9.]+) s")


def build(root: Path, jobs: int | None) -> tuple[float, list[tuple[str, float]]]:
    env = {**os.environ, "ATLAS_ROOT": str(root)}
    env.pop("ATLAS_BOOK_BUILD", None)
    if jobs:
        env["ATLAS_BUILD_JOBS"] = str(jobs)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "atlas", "build"], cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed, [(page, float(s)) for page, s in EXECUTED.findall(result.stdout + result.stderr)]


def add_standins(root: Path, n: int) -> None:
    toc = root / "_toc.yml"
    lines = toc.read_text().replace("      - file: book/quantization\n", "").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "chapters:" in line) + 1
    entries = ["      - file: book/quantization\n"]
    for i in range(1, n + 1):
        shutil.copy(root / "book" / "quantization.md", root / "book" / f"standin-{i}.md")
        entries.append(f"      - file: book/standin-{i}\n")
    toc.write_text("".join(lines[:at] + entries + lines[at:]))


def run(standins: int = 0, jobs: int | None = None, inspect=None) -> dict:
    """Cold, no-op and one-paper-added builds of a temporary copy; `inspect(root)` is called on the
    copy after the cold build (to read its site or records)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in COPY:
            source = REPO / name
            (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
        shutil.rmtree(root / "_build", ignore_errors=True)
        add_standins(root, standins)
        cold = build(root, jobs)
        extra = inspect(root) if inspect else None
        noop = build(root, jobs)
        (root / "new.bib").write_text(NEW_PAPER)
        added = subprocess.run(
            [sys.executable, "-m", "atlas", "add", "--bibtex", "new.bib", "--topic", "weight-only-quantization",
             "--summary", "A stand-in record the build benchmark adds to time a one-paper rebuild."],
            cwd=root, env={**os.environ, "ATLAS_ROOT": str(root)}, capture_output=True, text=True,
        )  # fmt: skip
        if added.returncode != 0:
            sys.exit(f"atlas add failed:\n{added.stdout}\n{added.stderr}")
        one = build(root, jobs)
    return {"cold": cold, "no-op": noop, "one paper added": one, "inspected": extra}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--standins", type=int, default=0, help="extra copies of a chapter to execute (default 0)")
    parser.add_argument("--jobs", type=int, help="pages executed at once (default: one per core)")
    args = parser.parse_args()
    runs = run(args.standins, args.jobs)
    print(f"{os.cpu_count()} cores; {len(runs['cold'][1])} executed pages")
    for name in ("cold", "no-op", "one paper added"):
        seconds, pages = runs[name]
        listed = ", ".join(f"{p} {s:.1f} s" for p, s in pages) or "none"
        print(f"{name:>16}: {seconds:5.1f} s, {len(pages)} page(s) executed: {listed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

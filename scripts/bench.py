"""The whole book's performance in one table, each figure with the command that reproduces it.

    python scripts/bench.py [--ci]

Builds a temporary copy three times (cold, no-op, one paper added; scripts/bench_build.py), reads
each page's execution time from the cold build's records, times validate+load of generated
datasets of 1,000 and 10,000 papers (scripts/bench_dataset.py), weighs the built site, and with
--ci times `bash .ci/run` on a fresh clone (about a quarter of an hour). Budgets on a 2-core
machine: cold build <= 60 s, no-op <= 5 s, one paper added <= 15 s, validate+load of 10k papers
<= 3 s, every chapter <= 20 s, .ci/run <= 20 minutes.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_build
from bench_dataset import generate, measure

REPO = Path(__file__).resolve().parent.parent


def site_weight(root: Path) -> dict:
    html = root / "_build" / "html"
    pages = {str(p.relative_to(html)): p.stat().st_size for p in sorted((html / "book").glob("*.html"))}
    total = sum(p.stat().st_size for p in html.rglob("*") if p.is_file())
    records = json.loads((root / "_build" / ".jupyter_cache.atlas-pages.json").read_text())["pages"]
    return {"pages": pages, "total": total, "seconds": {d: r["seconds"] for d, r in records.items()}}


def dataset_times(n: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, n)
        _, validate_s, _, total_s = measure(root)
        return validate_s, total_s


def ci_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "atlas"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        start = time.perf_counter()
        subprocess.run(["bash", ".ci/run"], cwd=clone, check=True)
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ci", action="store_true", help="also time .ci/run on a fresh clone (slow)")
    args = parser.parse_args()
    builds = bench_build.run(inspect=site_weight)
    weight = builds["inspected"]
    rows = []
    for name, budget in (("cold", 60), ("no-op", 5), ("one paper added", 15)):
        seconds, pages = builds[name]
        listed = ", ".join(p.removeprefix("book/") for p, _ in pages) or "none"
        rows.append((f"build, {name}", f"{seconds:.1f} s", f"<= {budget} s", f"{len(pages)} page(s) executed: {listed}",
                     "python scripts/bench_build.py"))  # fmt: skip
    for page, seconds in sorted(weight["seconds"].items(), key=lambda kv: -kv[1]):
        budget = "<= 20 s" if Path(REPO / f"{page}.ipynb").exists() else ""
        rows.append((f"execute {page}", f"{seconds:.1f} s", budget, "in the cold build, one kernel per core",
                     f"python scripts/time_chapter.py {page}.md"))  # fmt: skip
    for n in (1000, 10000):
        validated, total = dataset_times(n)
        rows.append((f"validate + load, {n:,} papers", f"{total:.2f} s", "<= 3 s" if n == 10000 else "",
                     f"validate {validated:.2f} s (pybtex in parallel)", f"python scripts/bench_dataset.py {n}"))  # fmt: skip
    rows.append(("built site, total", f"{weight['total'] / 1e6:.1f} MB", "", "every file under _build/html",
                 "python scripts/bench.py"))  # fmt: skip
    for page, size in sorted(weight["pages"].items(), key=lambda kv: -kv[1]):
        rows.append((f"page {page}", f"{size / 1e3:.0f} kB", "", "HTML with its chart data", "python scripts/bench.py"))
    if args.ci:
        rows.append(
            (
                "CI (.ci/run, fresh clone)",
                f"{ci_seconds() / 60:.1f} min",
                "<= 20 min",
                "",
                "python scripts/bench.py --ci",
            )
        )
    else:
        rows.append(
            ("CI (.ci/run, fresh clone)", "not measured", "<= 20 min", "pass --ci", "python scripts/bench.py --ci")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    print(f"{os.cpu_count()} cores")
    for r in [("figure", "value", "budget", "note", "command"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How long validating and loading a large dataset takes (target: 10,000 papers in at most 3 s).

    python scripts/bench_dataset.py [N]

Copies the real dataset into a temporary folder and adds synthetic papers (valid BibTeX and YAML,
varied titles) up to N in all, then times `python -m atlas validate`'s full pass (pybtex
included) and the DataFrame build the notebooks use, each in this process.
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

from atlas import data, paths
from atlas.dataset import taxonomy, validate

WORDS = [
    "sparse",
    "low",
    "rank",
    "attention",
    "kernel",
    "cache",
    "quantized",
    "expert",
    "pipeline",
    "tensor",
    "adapter",
    "prefix",
    "token",
    "draft",
    "speculative",
]


def generate(root: Path, n: int) -> None:
    shutil.copytree(paths.root() / "data", root / "data")
    shutil.copytree(paths.root() / "bib", root / "bib")
    real = len(list((root / "data" / "papers").glob("*.yaml")))
    topic_ids = list(taxonomy.load().topics)
    bib = [(root / "bib" / "papers.bib").read_text()]
    for i in range(n - real):
        year = 2017 + i % 9
        key = f"author{year}paper{i}"
        words = " ".join(WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(6))
        bib.append(
            f"@inproceedings{{{key},\n  title = {{Paper {i}: {words} number {i * 7919 % 100003}}},\n"
            f'  author = {{Author, Ann and M{{\\"u}}ller, Bob and Chen, Li}},\n  year = {{{year}}},\n'
            f"  booktitle = {{Conference (CONF {year + 1})}},\n  eprint = {{{2000 + i // 90000}.{10000 + i % 90000:05d}}},\n"
            f"  archiveprefix = {{arXiv}},\n  url = {{https://arxiv.org/abs/{2000 + i // 90000}.{10000 + i % 90000:05d}}},\n}}\n"
        )
        topic = topic_ids[i % len(topic_ids)]
        (root / "data" / "papers" / f"{key}.yaml").write_text(
            f"key: {key}\ntopics: [{topic}]\nstages: [inference]\nkind: method\n"
            f"summary: >-\n  A synthetic paper used to measure how fast the Atlas validates and loads {n} records.\n"
            f"added: 2026-11-22\nresults:\n  - metric: speedup\n    value: {1 + i % 7}.5\n    baseline: FP16\n"
            f"    setting: synthetic\n    where: Table {1 + i % 5}\n"
        )
    (root / "bib" / "papers.bib").write_text("\n".join(bib))


def measure(root: Path):
    """(validation, seconds to validate, the DataFrames, seconds to validate and load) for the tree."""
    start = time.perf_counter()
    checked = validate.run(root)
    validated = time.perf_counter()
    dataset = data.frames(checked)
    return checked, validated - start, dataset, time.perf_counter() - start


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, n)
        checked, validate_s, dataset, total_s = measure(root)
        if checked.problems:
            print("\n".join(map(str, checked.problems[:10])))
            return 1
        print(
            f"{n} papers: validate {validate_s:.2f} s (pybtex in parallel), "
            f"DataFrames {total_s - validate_s:.2f} s, total {total_s:.2f} s; "
            f"{len(dataset.papers)} papers, {len(dataset.results)} results"
        )
        start = time.perf_counter()
        data.load(root)
        print(f"data.load() as a notebook calls it (no pybtex pass): {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

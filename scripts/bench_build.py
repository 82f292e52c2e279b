"""Build times a contributor and CI see: cold, no-op, and after editing one number in the data.

    python scripts/bench_build.py

Works on a temporary copy of the repository (the working tree is left alone) and runs
`python -m atlas build` three times: from nothing, again with nothing changed, and after changing
one reported result, which must re-execute the notebooks that read it.
"""

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


def build(root: Path) -> tuple[float, int]:
    env = {**os.environ, "ATLAS_ROOT": str(root)}
    env.pop("ATLAS_BOOK_BUILD", None)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "atlas", "build"], cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed, len(re.findall(r"Executed notebook", result.stdout + result.stderr))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in COPY:
            source = REPO / name
            (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
        shutil.rmtree(root / "_build", ignore_errors=True)
        cold = build(root)
        noop = build(root)
        record = root / "data" / "papers" / "frantar2022gptq.yaml"
        record.write_text(record.read_text().replace("value: 6.09", "value: 6.19"))
        edit = build(root)
    for name, (seconds, executed) in (("cold", cold), ("no-op", noop), ("data edit", edit)):
        print(f"{name:>9}: {seconds:5.1f} s, {executed} notebook(s) executed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Executing the book's pages: only those whose inputs changed, several at a time, each in a fresh kernel.

Jupyter Book's execution cache is keyed on a notebook's code alone, so by itself it would serve a
chart drawn from last week's data, and it runs pages one after another. Before Sphinx reads the
pages (atlas.book.sphinx_ext), `plan()` decides which pages are stale, `run()` executes those in
parallel worker processes and stores their outputs in the same cache, where myst-nb then finds
them. Each page's record says what it read (atlas.reads), the digests of those things, its run
time and the claims its outputs carry; a page is stale when its code, anything it read, or the
environment (atlas code, taxonomy, library versions) differs from its record.

Each kernel runs with ATLAS_ROOT and PYTHONPATH set to the tree being built, so it renders that
tree's data and code even when the environment's editable install points at another clone.
"""

import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from atlas import claims, reads
from atlas.book.environment import BOOK_BUILD_ENV

JOBS_ENV = "ATLAS_BUILD_JOBS"  # how many pages execute at once (default: one per CPU core)


@dataclass
class Job:
    docname: str
    notebook: nbformat.NotebookNode
    cwd: Path
    hashkey: str
    source: str = ""  # digest of the page's file and the book's configuration the hashkey was made from


@dataclass
class Outcome:
    job: Job
    notebook: nbformat.NotebookNode | None
    reads: list[tuple[str, str]]
    seconds: float
    error: str = ""


class Records:
    """Per-page execution records, kept beside the execution cache as one JSON file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            saved = {}
        self.pages: dict[str, dict] = saved.get("pages", {})
        # each BibTeX entry's digest when the pages were last read (None: unknown, so every page is re-read)
        bibliography = saved.get("bibliography")
        self.bibliography: dict[str, str] | None = bibliography if isinstance(bibliography, dict) else None
        self.ledger: str = saved.get("ledger", "")  # the claims the ledger page was last read with
        self.downloads: str = saved.get("downloads", "")  # the dataset and version the downloads hold

    def is_fresh(self, docname: str, hashkey: str, snapshot, cached_keys: set[str]) -> bool:
        record = self.pages.get(docname)
        if not record or record["hashkey"] != hashkey or hashkey not in cached_keys:
            return False
        if record["environment"] != snapshot.environment:
            return False
        return all(snapshot.digest(kind, name) == digest for kind, name, digest in record["reads"])

    def update(self, outcome: Outcome, snapshot) -> None:
        found = claims.from_notebook(outcome.notebook)
        ids = [c["id"] for c in found]
        if len(ids) != len(set(ids)):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"{outcome.job.docname}: claim id(s) recorded twice: {', '.join(twice)}")
        self.pages[outcome.job.docname] = {
            "hashkey": outcome.job.hashkey,
            "source": outcome.job.source,
            "environment": snapshot.environment,
            "reads": [[kind, name, snapshot.digest(kind, name)] for kind, name in outcome.reads],
            "seconds": round(outcome.seconds, 2),
            "claims": found,
        }

    def keep_only(self, docnames) -> None:
        """Forget pages no longer in the book, so their claims vanish with them."""
        self.pages = {d: r for d, r in self.pages.items() if d in set(docnames)}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        saved = {"pages": self.pages, "bibliography": self.bibliography, "ledger": self.ledger,
                 "downloads": self.downloads}  # fmt: skip
        tmp.write_text(json.dumps(saved, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)


def workers(n_jobs: int) -> int:
    wanted = int(os.environ.get(JOBS_ENV) or os.cpu_count() or 1)
    return max(1, min(wanted, n_jobs))


def run(jobs: list[Job], root: Path, timeout: int, report=print) -> list[Outcome]:
    """Execute every job, `workers()` at a time, each in its own process and kernel.

    Each kernel runs torch on one thread (OMP_NUM_THREADS=1): the demos' models are small enough
    that a second thread buys little, pages running side by side then never fight over cores, and
    on a machine others share, threads waiting for each other do not turn seconds into minutes."""
    if not jobs:
        return []
    n_workers = workers(len(jobs))
    threads = 1
    pending = list(jobs)  # in the caller's order: put the longest-running pages first
    running: list[tuple[Job, subprocess.Popen, Path, float]] = []
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="atlas-execute-") as tmp:
        tmp = Path(tmp)
        while pending or running:
            while pending and len(running) < n_workers:
                job = pending.pop(0)
                slot = tmp / job.docname.replace("/", "__")
                slot.mkdir(parents=True)
                nbformat.write(job.notebook, slot / "in.ipynb")
                env = {
                    **os.environ,
                    BOOK_BUILD_ENV: "1",
                    "ATLAS_ROOT": str(root),
                    "PYTHONPATH": os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])]),
                    reads.LOG_ENV: str(slot / "reads.tsv"),
                    claims.PAGE_ENV: job.docname,
                    "OMP_NUM_THREADS": str(threads),
                    "MKL_NUM_THREADS": str(threads),
                    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
                }
                command = [sys.executable, "-m", "atlas.book.execute", str(slot), str(job.cwd), str(timeout)]
                with open(slot / "log.txt", "w") as log:  # a file, not a pipe: a chatty page cannot block
                    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
                running.append((job, process, slot, time.perf_counter()))
            job, process, slot, started = _wait_any(running)
            output = (slot / "log.txt").read_text(encoding="utf-8", errors="replace")
            seconds = time.perf_counter() - started
            if process.returncode != 0:
                output = "\n".join(line for line in output.splitlines() if "Kernel is running over TCP" not in line)
                outcomes.append(Outcome(job, None, [], seconds, output.strip() or f"exit code {process.returncode}"))
                continue
            executed = _with_outputs(job.notebook, nbformat.read(slot / "out.ipynb", as_version=4))
            noted = _read_log(slot / "reads.tsv")
            report(f"atlas: executed {job.docname} in {seconds:.1f} s ({threads} thread(s), {len(noted)} input(s))")
            outcomes.append(Outcome(job, executed, noted, seconds))
    return outcomes


def _with_outputs(source, executed):
    """The notebook exactly as myst-nb read it, plus the executed outputs: its cache key stays the
    one myst-nb looks up, whatever metadata the kernel added."""
    merged = copy.deepcopy(source)
    for cell, done in zip(merged.cells, executed.cells, strict=True):
        if cell.cell_type == "code":
            cell.outputs = done.get("outputs", [])
            cell.execution_count = done.get("execution_count")
    merged.metadata.setdefault("language_info", executed.metadata.get("language_info", {}))
    return merged


def _wait_any(running):
    while True:
        for i, entry in enumerate(running):
            if entry[1].poll() is not None:
                return running.pop(i)
        time.sleep(0.05)


def _read_log(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return sorted({tuple(line.split("\t", 1)) for line in lines if "\t" in line})


def _execute_one(slot: Path, cwd: Path, timeout: int) -> int:
    """In the worker process: run the notebook top to bottom in a fresh kernel and save it."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(slot / "in.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=False, resources={"metadata": {"path": str(cwd)}}
    )
    try:
        client.execute()
    except CellExecutionError as err:
        print(str(err))
        return 1
    warned = warnings_printed(nb)
    if warned:
        print("\n\n".join(warned))
        return 1
    nbformat.write(nb, slot / "out.ipynb")
    return 0


def warnings_printed(nb) -> list[str]:
    """What the page's cells wrote to stderr: a warning on a published page is a defect the
    reader sees, so the build refuses it as it refuses an error."""
    found = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code, start=1):
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stderr")
        if text.strip():
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            found.append(
                f"code cell {number} ({first!r}) wrote to stderr, which the book does not publish:\n{text.strip()}"
            )
    return found


if __name__ == "__main__":
    sys.exit(_execute_one(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))

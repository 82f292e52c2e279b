"""`python -m atlas format [--check]`: one canonical order and style for bib/papers.bib and the YAML,
so that a pull request's diff shows only real changes.

It reorders and re-spaces, nothing else: every file is re-read after rendering and must hold exactly
the same entries, fields and values, or nothing is written. A file that does not parse is reported
and left alone.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from atlas import paths
from atlas.dataset import bibtex, records, yamlio
from atlas.dataset.problems import Problem


@dataclass
class Outcome:
    changed: list[str] = field(default_factory=list)  # files (as shown) that are, or would be, rewritten
    problems: list[Problem] = field(default_factory=list)


def write_atomically(path: Path, text: str) -> None:
    """Replace a file in one step, so an interrupted write never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _same_entries(a: list[bibtex.BibEntry], b: list[bibtex.BibEntry]) -> bool:
    def content(entries):
        return sorted((e.key, e.entry_type, sorted(e.fields.items())) for e in entries)

    return content(a) == content(b)


def format_bib(path: Path, check: bool, outcome: Outcome) -> None:
    file = paths.relative(path)
    if not path.exists():
        return
    text = path.read_text(encoding="utf-8")
    entries, problems = bibtex.parse(text, file)
    if problems:
        outcome.problems += problems
        return
    rendered = bibtex.render_file(entries)
    if rendered == text:
        return
    again, problems = bibtex.parse(rendered, file)
    if problems or not _same_entries(entries, again):  # never lose or alter an entry
        outcome.problems.append(
            Problem(file, 1, "formatting would change the entries' content; nothing was written (please report this)")
        )
        return
    outcome.changed.append(file)
    if not check:
        write_atomically(path, rendered)


def format_record(path: Path, check: bool, outcome: Outcome) -> None:
    file = paths.relative(path)
    data, text, problem = yamlio.read_mapping(path, file)
    if problem:
        outcome.problems.append(Problem(problem.file, problem.line, f"{problem.message}; not formatted"))
        return
    rendered = records.render(data)  # raises if it cannot be written without a change
    if rendered == text:
        return
    outcome.changed.append(file)
    if not check:
        write_atomically(path, rendered)


def run(root: Path | None = None, check: bool = False) -> Outcome:
    root = Path(root or paths.root())
    outcome = Outcome()
    format_bib(paths.bib_file(root), check, outcome)
    for path in sorted(paths.papers_dir(root).glob("*.yaml")):
        format_record(path, check, outcome)
    return outcome

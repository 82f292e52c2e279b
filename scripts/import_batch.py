"""Import a batch of curated papers through `atlas add`, so each passes the checks a contributor's would.

    python scripts/import_batch.py BATCH.bib RECORDS_DIR

BATCH.bib holds the BibTeX entries; RECORDS_DIR holds one <key>.yaml per entry with the survey's
annotations (topics, stages, kind, summary, code, results). Each entry is added with `atlas add`
(normalised, duplicates refused); the record's results are then written into the new YAML file.
A refused entry is reported and skipped; the others are imported.
"""

import datetime as dt
import sys
from pathlib import Path

from atlas import paths
from atlas.dataset import bibtex, contribute, formatting, records, yamlio


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    batch, folder = Path(sys.argv[1]), Path(sys.argv[2])
    entries, problems = bibtex.parse(batch.read_text(encoding="utf-8"), str(batch))
    for problem in problems:
        print(problem)
    imported, refused = [], []
    for entry in entries:
        staged_path = folder / f"{entry.key}.yaml"
        if not staged_path.exists():
            refused.append(f"{batch}:{entry.line}: no {staged_path}")
            continue
        staged = yamlio.read(staged_path)
        try:
            report = contribute.add(
                bibtex.render_entry(entry),
                f"{batch}:{entry.line}",
                list(staged.get("topics") or []),
                summary=staged.get("summary"),
                stages=staged.get("stages"),
                kind=staged.get("kind"),
                code=staged.get("code"),
                today=staged.get("added") if isinstance(staged.get("added"), dt.date) else None,
            )
        except contribute.Refused as err:
            refused += [str(p) for p in err.problems]
            continue
        key = report.lines[0].removeprefix("Added ").rstrip(":")
        if staged.get("results"):
            path = paths.papers_dir() / f"{key}.yaml"
            record = yamlio.read(path)
            record["results"] = staged["results"]
            formatting.write_atomically(path, records.render(record))
        imported.append(key)
    print(f"imported {len(imported)} of {len(entries)} entries from {batch}")
    for line in refused:
        print(f"  refused: {line}")
    return 0 if not refused else 1


if __name__ == "__main__":
    sys.exit(main())

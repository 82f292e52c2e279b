"""The dataset in formats other tools read: CSV and JSON tables, and one BibTeX file."""

import json
import shutil
from pathlib import Path

from atlas import paths
from atlas.data import Dataset


def write(ds: Dataset, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    tables = {"papers": ds.papers, "paper_topics": ds.paper_topics, "results": ds.results}
    for name, frame in tables.items():
        flat = frame.copy()
        for column in flat.columns:  # lists become "a; b" so the CSV stays one value per cell
            if flat[column].map(lambda v: isinstance(v, list)).any():
                flat[column] = flat[column].map("; ".join)
        path = folder / f"{name}.csv"
        flat.to_csv(path, index=False)
        written.append(path)
    path = folder / "atlas.json"
    payload = {name: json.loads(frame.to_json(orient="records", date_format="iso")) for name, frame in tables.items()}
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(path)
    path = folder / "papers.bib"
    shutil.copyfile(paths.bib_file(), path)
    written.append(path)
    return written

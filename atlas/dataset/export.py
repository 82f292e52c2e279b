"""The dataset in formats other tools read: CSV and JSON tables, BibTeX, and a data dictionary.

    write(ds, folder)   folder/papers.csv, results.csv, paper_topics.csv, atlas.json, papers.bib,
                        datapackage.json (what every column means), and chapters/<id>/ with the
                        same files for each chapter's papers

Every file carries the dataset's version, the date and commit it was built from: a column
`atlas_version` in the CSV files, a `version` field in the JSON, a comment at the top of the BibTeX.
"""

import datetime as dt
import json
import subprocess
from pathlib import Path

from atlas import paths
from atlas.dataset import bibtex

TABLES = ("papers", "paper_topics", "results")

# The data dictionary: what each column of the tables holds (datapackage.json, Frictionless style).
FIELDS = {
    "papers": {
        "key": "the paper's id everywhere in the Atlas (BibTeX key, YAML file name)",
        "label": "a short name for charts: the acronym before the title's colon, else 'Author et al. year'",
        "title": "title, as plain text",
        "authors": "all authors, in order, comma-separated",
        "first_author": "the first author",
        "n_authors": "number of authors",
        "year": "year of the first public version",
        "venue": "where it was published (conference, journal), or 'arXiv' for a preprint",
        "peer_reviewed": "true when the record names a venue or journal",
        "entry_type": "BibTeX entry type",
        "arxiv": "arXiv id, when there is one",
        "doi": "DOI of the published version, when recorded",
        "url": "link to the paper (DOI, else arXiv, else the recorded URL)",
        "topics": "the Atlas topics it contributes to, primary first ('; '-separated in CSV)",
        "primary_topic": "its first topic",
        "chapter": "the chapter of its primary topic",
        "stages": "stages of a model's life it makes cheaper ('; '-separated in CSV)",
        "kind": "method, system, survey, benchmark or analysis",
        "summary": "what it does and saves, in the Atlas's own words",
        "code": "official code repository, when there is one",
        "added": "date the record was added to the Atlas",
        "n_results": "number of reported results recorded",
    },
    "paper_topics": {
        "key": "paper key",
        "topic": "topic id",
        "topic_title": "topic title",
        "chapter": "the topic's chapter",
        "primary": "true for the paper's first topic",
        "year": "the paper's year",
    },
    "results": {
        "key": "paper key",
        "label": "the paper's short name",
        "title": "the paper's title",
        "year": "the paper's year",
        "primary_topic": "the paper's first topic",
        "chapter": "the chapter of that topic",
        "metric": "metric id (data/taxonomy.yaml)",
        "metric_title": "metric name",
        "unit": "the metric's unit",
        "better": "which direction is better: higher, lower or neither",
        "value": "the number as the paper states it, in the unit",
        "baseline": "what it is compared with",
        "baseline_value": "the baseline's number from the same table, when given",
        "precision": "bits of weights/activations/cache (quantization papers), e.g. W4A16",
        "weight_bits": "weight bits read from precision",
        "activation_bits": "activation bits read from precision",
        "setting": "model, data and hardware of the measurement",
        "where": "where in the paper the number is (Abstract, Table 2, README, ...)",
    },
}


def version(root: Path | None = None) -> dict:
    """The date and commit the files are built from (the commit's date, so rebuilding is stable)."""
    root = Path(root or paths.root())
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%H %cs"], capture_output=True, text=True, timeout=10
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        out = []
    commit, date = (out[0], out[1]) if len(out) == 2 else ("", dt.date.today().isoformat())
    return {"date": date, "commit": commit, "label": f"{date}+{commit[:12]}" if commit else date}


def _write_set(ds, folder: Path, bib_text: str, keys: set[str] | None, stamp: dict) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    frames = {}
    for name in TABLES:
        frame = getattr(ds, name)
        frames[name] = frame if keys is None else frame[frame["key"].isin(keys)]
    written = []
    for name, frame in frames.items():
        flat = frame.copy()
        for column in flat.columns:  # lists become "a; b" so the CSV stays one value per cell
            if flat[column].map(lambda v: isinstance(v, list)).any():
                flat[column] = flat[column].map("; ".join)
        flat["atlas_version"] = stamp["label"]
        path = folder / f"{name}.csv"
        flat.to_csv(path, index=False)
        written.append(path)
    payload = {"version": stamp}
    payload.update({n: json.loads(f.to_json(orient="records", date_format="iso")) for n, f in frames.items()})
    path = folder / "atlas.json"
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(path)
    entries = bibtex.entry_texts(bib_text)
    chosen = [entries[k] for k in sorted(entries) if keys is None or k in keys]
    path = folder / "papers.bib"
    header = f"@comment{{LLM Efficiency Atlas, version {stamp['label']} (CC BY 4.0)}}\n\n"
    path.write_text(header + "\n".join(chosen), encoding="utf-8")
    written.append(path)
    return written


def write(ds, folder: Path) -> list[Path]:
    folder = Path(folder)
    stamp = version()
    bib_text = paths.bib_file().read_text(encoding="utf-8")
    written = _write_set(ds, folder, bib_text, None, stamp)
    pairs = ds.paper_topics
    for chapter in ds.taxonomy.chapters:
        keys = set(pairs.loc[pairs["chapter"] == chapter.id, "key"])
        written += _write_set(ds, folder / "chapters" / chapter.id, bib_text, keys, stamp)
    written.append(_write_datapackage(folder, stamp))
    return written


def _write_datapackage(folder: Path, stamp: dict) -> Path:
    resources = []
    for name in TABLES:
        fields = [{"name": column, "description": text} for column, text in FIELDS[name].items()]
        fields.append({"name": "atlas_version", "description": "the dataset version: date and commit"})
        resources.append({"name": name, "path": f"{name}.csv", "format": "csv", "schema": {"fields": fields}})
    resources += [
        {"name": "atlas", "path": "atlas.json", "format": "json",
         "description": "the three tables as JSON records, with the version"},
        {"name": "bibliography", "path": "papers.bib", "format": "bibtex", "description": "one entry per paper"},
        {"name": "chapters", "path": "chapters/<chapter id>/", "description": "the same files for each chapter's papers"},
    ]  # fmt: skip
    package = {
        "name": "llm-efficiency-atlas",
        "title": "LLM Efficiency Atlas dataset",
        "licenses": [{"name": "CC-BY-4.0"}],
        "version": stamp["label"],
        "created_from_commit": stamp["commit"],
        "resources": resources,
    }
    path = folder / "datapackage.json"
    path.write_text(json.dumps(package, indent=1) + "\n", encoding="utf-8")
    return path

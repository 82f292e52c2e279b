"""The dataset as pandas DataFrames: what every chart, table and count in the book is drawn from.

    ds = load()
    ds.papers        one row per paper: BibTeX fields joined with the survey's annotations
    ds.paper_topics  one row per (paper, topic) pair; `primary` marks the first topic
    ds.results       one row per reported number, with the metric's unit and direction
    ds.chapter("quantization")   the same three tables restricted to one chapter's papers

Loading validates first (the same checks as `python -m atlas validate`, less the slower pybtex
pass the build runs) and raises DatasetError instead of drawing from a broken dataset.
"""

import re
from pathlib import Path

import pandas as pd

from atlas import reads
from atlas.dataset import bibtex, validate
from atlas.dataset.problems import DatasetError
from atlas.dataset.taxonomy import Taxonomy

_BITS = re.compile(r"^W([0-9.]+)A([0-9.]+)")


class Dataset:
    """The three tables, for the whole dataset or one chapter's slice of it.

    A page's output depends on exactly what it reads, so the tables note what they hand out
    (atlas.reads): the whole dataset's tables note "all", a chapter's slice notes that chapter,
    and the book build re-executes a page only when something it read has changed."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        papers: pd.DataFrame,
        paper_topics: pd.DataFrame,
        results: pd.DataFrame,
        scope: str = "all",
    ):
        self.taxonomy = taxonomy
        self.scope = scope
        self._papers, self._paper_topics, self._results = papers, paper_topics, results
        self._noted = False

    def _read(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not self._noted:
            reads.note("dataset", self.scope)
            self._noted = True
        return frame

    @property
    def papers(self) -> pd.DataFrame:
        return self._read(self._papers)

    @property
    def paper_topics(self) -> pd.DataFrame:
        return self._read(self._paper_topics)

    @property
    def results(self) -> pd.DataFrame:
        return self._read(self._results)

    def chapter(self, chapter_id: str) -> "Dataset":
        """Papers with any topic in the chapter (a paper may belong to several chapters), their
        results, and their (paper, topic) pairs within this chapter."""
        self.taxonomy.chapter(chapter_id)  # a KeyError naming the chapters beats an empty table
        pairs = self._paper_topics
        keys = set(pairs.loc[pairs["chapter"] == chapter_id, "key"])
        return Dataset(
            self.taxonomy,
            self._papers[self._papers["key"].isin(keys)].reset_index(drop=True),
            pairs[pairs["chapter"] == chapter_id].reset_index(drop=True),
            self._results[self._results["key"].isin(keys)].reset_index(drop=True),
            scope=f"chapter:{chapter_id}",
        )


_last_loaded: dict[str, Dataset] = {}


def load(root: Path | None = None) -> Dataset:
    checked = validate.run(root, check_pybtex=False)
    if checked.problems:
        raise DatasetError(checked.problems)
    ds = frames(checked)
    _last_loaded[str(Path(checked.root).resolve())] = ds
    return ds


def last_loaded(root: Path | None = None) -> Dataset | None:
    """The dataset this process last loaded from `root`, so helpers (claims) need not read it again."""
    from atlas import paths

    return _last_loaded.get(str(Path(root or paths.root()).resolve()))


def label(title: str, first_author: str, year: int) -> str:
    """A short name for charts: the acronym before a title's colon, else 'Author et al. year'."""
    head = title.split(":", 1)[0].strip()
    if ":" in title and len(head) <= 24:
        return head
    return f"{first_author.split()[-1]} et al. {year}" if first_author else str(year)


def frames(checked: validate.Validation) -> Dataset:
    taxonomy = checked.taxonomy
    topics = taxonomy.topics
    paper_rows, topic_rows, result_rows = [], [], []
    for key, record in checked.records.items():
        entry = checked.entries[key]
        f = entry.fields
        data = record.data
        authors = [bibtex.display_name(a) for a in bibtex.split_authors(f.get("author", ""))]
        title = bibtex.to_text(f.get("title", ""))
        year = int(f["year"])
        venue = bibtex.to_text(next((f[v] for v in bibtex.VENUE_FIELDS if f.get(v)), "")) or (
            "arXiv" if f.get("eprint") else ""
        )
        arxiv = f.get("eprint", "")
        doi = f.get("doi", "")
        first = authors[0] if authors else ""
        short = label(title, first, year)
        primary = data["topics"][0]
        paper_rows.append(
            {
                "key": key,
                "label": short,
                "title": title,
                "authors": ", ".join(authors),
                "first_author": first,
                "n_authors": len(authors),
                "year": year,
                "venue": venue,
                "peer_reviewed": entry.entry_type in ("inproceedings", "article", "incollection"),
                "entry_type": entry.entry_type,
                "arxiv": arxiv,
                "doi": doi,
                "url": f"https://doi.org/{doi}"
                if doi
                else (f"https://arxiv.org/abs/{arxiv}" if arxiv else f.get("url", "")),
                "topics": list(data["topics"]),
                "primary_topic": primary,
                "chapter": topics[primary].chapter,
                "stages": list(data["stages"]),
                "kind": data["kind"],
                "summary": " ".join(data["summary"].split()),
                "code": data.get("code", ""),
                "added": pd.Timestamp(data["added"]),
                "n_results": len(data.get("results") or []),
            }
        )
        for i, topic in enumerate(data["topics"]):
            topic_rows.append(
                {
                    "key": key,
                    "topic": topic,
                    "topic_title": topics[topic].title,
                    "chapter": topics[topic].chapter,
                    "primary": i == 0,
                    "year": year,
                }
            )
        for result in data.get("results") or []:
            metric = taxonomy.metrics[result["metric"]]
            bits = _BITS.match(result.get("precision", ""))
            result_rows.append(
                {
                    "key": key,
                    "label": short,
                    "title": title,
                    "year": year,
                    "primary_topic": primary,
                    "chapter": topics[primary].chapter,
                    "metric": metric.id,
                    "metric_title": metric.title,
                    "unit": metric.unit,
                    "better": metric.better,
                    "value": float(result["value"]),
                    "baseline": result["baseline"],
                    "baseline_value": float(result["baseline_value"]) if "baseline_value" in result else float("nan"),
                    "precision": result.get("precision", ""),
                    "weight_bits": float(bits.group(1)) if bits else float("nan"),
                    "activation_bits": float(bits.group(2)) if bits else float("nan"),
                    "setting": result["setting"],
                    "where": result["where"],
                }
            )
    papers = pd.DataFrame(paper_rows, columns=_columns(paper_rows, "key")).sort_values(
        ["year", "key"], ignore_index=True
    )
    paper_topics = pd.DataFrame(topic_rows, columns=["key", "topic", "topic_title", "chapter", "primary", "year"])
    results = pd.DataFrame(result_rows, columns=_RESULT_COLUMNS)
    return Dataset(taxonomy, papers, paper_topics, results)


_RESULT_COLUMNS = [
    "key",
    "label",
    "title",
    "year",
    "primary_topic",
    "chapter",
    "metric",
    "metric_title",
    "unit",
    "better",
    "value",
    "baseline",
    "baseline_value",
    "precision",
    "weight_bits",
    "activation_bits",
    "setting",
    "where",
]


def _columns(rows, first):
    return list(rows[0]) if rows else [first]

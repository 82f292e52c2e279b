"""Keeping the Atlas alive: new arXiv papers to triage, and preprints that have since been published.

    python -m atlas watch [--since YYYY-MM-DD] [--markdown]   candidates since the newest `added` date
    python -m atlas watch --venues                            preprints arXiv now lists as published

Candidates come from arXiv's public API: one query per chapter, for papers in the machine-learning,
language, distributed-computing and hardware categories whose title or abstract names one of the
chapter's topic keywords (data/taxonomy.yaml). Each is matched against every topic's keywords
(a hit in the title counts three times, one in the abstract once), papers already in the Atlas
(same arXiv id or the same title) are dropped, and the rest are ranked by score. The list is a
triage aid: a maintainer reads each abstract and turns the ones in scope into `atlas add`
commands, with a summary in their own words.
"""

import datetime as dt
import re
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from atlas.dataset import arxiv, bibtex, duplicates

API = "https://export.arxiv.org/api/query?"
CATEGORIES = ("cs.CL", "cs.LG", "cs.DC", "cs.AR", "cs.AI", "cs.PF")
PAGE = 200


@dataclass
class Candidate:
    arxiv_id: str
    title: str
    authors: list[str]
    published: str
    abstract: str
    categories: list[str]
    journal_ref: str = ""
    doi: str = ""
    score: int = 0
    topics: list[tuple[str, int]] = field(default_factory=list)  # (topic id, score), best first


def chapter_query(chapter, since: dt.date) -> str:
    """arXiv search_query text for one chapter's topic keywords, submitted on or after `since`."""
    phrases = sorted({k for t in chapter.topics for k in t.keywords if len(k) > 3})
    terms = " OR ".join(f'ti:"{p}" OR abs:"{p}"' for p in phrases)
    cats = " OR ".join(f"cat:{c}" for c in CATEGORIES)
    return f"({terms}) AND ({cats}) AND submittedDate:[{since:%Y%m%d}0000 TO 209912312359]"


def parse_feed(atom: str) -> list[Candidate]:
    try:
        root = ET.fromstring(atom)
    except ET.ParseError as err:
        raise arxiv.ArxivError(f"arXiv's answer could not be read ({err})") from None
    found = []
    for entry in root.findall("atom:entry", arxiv.NS):
        raw_id = arxiv._text(entry, "atom:id").rsplit("/abs/", 1)[-1]
        try:
            arxiv_id = arxiv.clean_id(raw_id)
        except arxiv.ArxivError:
            continue  # an error entry, not a paper
        found.append(
            Candidate(
                arxiv_id=arxiv_id,
                title=arxiv._text(entry, "atom:title"),
                authors=[arxiv._text(a, "atom:name") for a in entry.findall("atom:author", arxiv.NS)],
                published=arxiv._text(entry, "atom:published")[:10],
                abstract=arxiv._text(entry, "atom:summary"),
                categories=[c.get("term", "") for c in entry.findall("atom:category", arxiv.NS)],
                journal_ref=arxiv._text(entry, "arxiv:journal_ref"),
                doi=arxiv._text(entry, "arxiv:doi"),
            )
        )
    return found


def fetch(query: str, start: int = 0, timeout: float = 30) -> str:
    params = urllib.parse.urlencode(
        {
            "search_query": query,
            "start": start,
            "max_results": PAGE,
            "sortBy": "submittedDate",
            "sortOrder": "descending",
        }
    )
    try:
        with urllib.request.urlopen(API + params, timeout=timeout) as response:
            return response.read().decode("utf-8")
    except OSError as err:
        raise arxiv.ArxivError(f"could not reach arXiv ({err}); `atlas watch` needs the network") from None


def _hits(text: str, phrase: str) -> int:
    return len(re.findall(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])", text))


def score(candidate: Candidate, taxonomy) -> None:
    """Rank the topics a candidate's title and abstract name, and its overall score."""
    title, abstract = candidate.title.lower(), candidate.abstract.lower()
    ranked = []
    for topic in taxonomy.topics.values():
        points = sum(3 * _hits(title, k) + _hits(abstract, k) for k in topic.keywords)
        if points:
            ranked.append((topic.id, points))
    ranked.sort(key=lambda tp: (-tp[1], tp[0]))
    candidate.topics = ranked
    candidate.score = sum(points for _, points in ranked[:3])


def triage(dataset_entries, taxonomy, since: dt.date, fetch_page=fetch, max_pages: int = 3) -> list[Candidate]:
    """New candidates for every chapter, without papers already in the Atlas, best first."""
    known_ids = {e.fields.get("eprint", "") for e in dataset_entries}
    by_id: dict[str, Candidate] = {}
    for chapter in taxonomy.chapters:
        query = chapter_query(chapter, since)
        for page in range(max_pages):
            batch = parse_feed(fetch_page(query, page * PAGE))
            for c in batch:
                by_id.setdefault(c.arxiv_id, c)
            if len(batch) < PAGE:
                break
    known = _Known(dataset_entries)
    fresh = []
    for c in by_id.values():
        if c.arxiv_id in known_ids or c.published < since.isoformat() or known.has(c):
            continue
        score(c, taxonomy)
        if c.score:
            fresh.append(c)
    fresh.sort(key=lambda c: (-c.score, c.arxiv_id))
    return fresh


class _Known:
    """The Atlas's papers, indexed the way duplicates.find_all indexes them, to drop candidates it has."""

    def __init__(self, entries):
        self.ids = [duplicates.Identity(e) for e in entries]
        self.blocks: dict[str, list] = {}
        for ident in self.ids:
            for block in ident.blocks:
                self.blocks.setdefault(block, []).append(ident)

    def has(self, c: Candidate) -> bool:
        fields = {"title": c.title, "eprint": c.arxiv_id, **({"doi": c.doi} if c.doi else {})}
        new = duplicates.Identity(bibtex.BibEntry("candidate", "misc", fields, 1, {}, "", frozenset()))
        near = {id(k): k for block in new.blocks for k in self.blocks.get(block, [])}
        same_id = [k for k in self.ids if (new.arxiv and k.arxiv == new.arxiv) or (new.doi and k.doi == new.doi)]
        return any(duplicates.same_paper(new, k) for k in [*same_id, *near.values()])


def markdown(candidates: list[Candidate], since: dt.date, limit: int = 100) -> str:
    """The triage list as the body of the weekly issue: one line each, with the command to add it."""
    lines = [
        f"## Papers to triage, submitted since {since:%Y-%m-%d}",
        "",
        f"{len(candidates)} new arXiv papers name a topic of the Atlas; the best {min(limit, len(candidates))} "
        "by keyword score are listed. For each one in scope: read the abstract, then run the command "
        "with a summary in your own words, and add its headline results with `where`.",
        "",
        "| Score | Paper | Topics | Add it |",
        "|---|---|---|---|",
    ]
    for c in candidates[:limit]:
        title = c.title.replace("|", "/")
        topics = ", ".join(t for t, _ in c.topics[:3])
        flags = " ".join(f"--topic {t}" for t, _ in c.topics[:2])
        lines.append(
            f"| {c.score} | [{title}](https://arxiv.org/abs/{c.arxiv_id}) ({c.published}) | {topics} | "
            f'`python -m atlas add --arxiv {c.arxiv_id} {flags} --summary "..."` |'
        )
    return "\n".join(lines) + "\n"


def text(candidates: list[Candidate], since: dt.date, limit: int = 100) -> str:
    out = [f"{len(candidates)} candidates submitted since {since:%Y-%m-%d} (best first):"]
    for c in candidates[:limit]:
        topics = ", ".join(f"{t} ({p})" for t, p in c.topics[:3])
        flags = " ".join(f"--topic {t}" for t, _ in c.topics[:2])
        out.append(
            f'{c.score:>4}  {c.arxiv_id}  {c.title}\n      {topics}\n      python -m atlas add --arxiv {c.arxiv_id} {flags} --summary "..."'
        )
    return "\n".join(out)


# --- venues ------------------------------------------------------------------------------------------


def published_preprints(dataset_entries, fetch_ids=None) -> list[tuple[str, str, str]]:
    """(key, journal reference, DOI) for the preprints in the Atlas that arXiv now lists as published."""
    preprints = {
        e.fields["eprint"]: e.key
        for e in dataset_entries
        if e.fields.get("eprint") and not (e.fields.get("booktitle") or e.fields.get("journal"))
    }
    fetch_ids = fetch_ids or _fetch_ids
    found = []
    ids = sorted(preprints)
    for i in range(0, len(ids), 100):
        for c in parse_feed(fetch_ids(ids[i : i + 100])):
            if c.arxiv_id in preprints and (c.journal_ref or c.doi):
                found.append((preprints[c.arxiv_id], c.journal_ref, c.doi))
    return sorted(found)


def _fetch_ids(ids: list[str], timeout: float = 30) -> str:
    params = urllib.parse.urlencode({"id_list": ",".join(ids), "max_results": len(ids)})
    try:
        with urllib.request.urlopen(API + params, timeout=timeout) as response:
            return response.read().decode("utf-8")
    except OSError as err:
        raise arxiv.ArxivError(f"could not reach arXiv ({err}); `atlas watch --venues` needs the network") from None

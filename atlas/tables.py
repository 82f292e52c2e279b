"""The chapters' paper tables, as MyST markdown whose citations link to the chapter's bibliography.

Every string from the dataset is escaped on the way in: a title or summary can never become
markup, a link or a script on the site.
"""

import re

import pandas as pd

from atlas.book.environment import in_book_build

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|$~^])")
_VENUE_SHORT = re.compile(r"\(([A-Z][A-Za-z-]*\s+\d{4})\)\s*$")


def escape(text) -> str:
    """Plain text safe inside a MyST table cell: markup characters are backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def short_venue(venue: str) -> str:
    """'International Conference on Learning Representations (ICLR 2023)' -> 'ICLR 2023'."""
    match = _VENUE_SHORT.search(venue)
    return match.group(1) if match else venue


def cite(key: str, text: str, url: str) -> str:
    """In the book, an author-year citation linked to the chapter's bibliography; in Jupyter and
    Colab (which do not know the role), a plain link to the paper."""
    if not re.fullmatch(r"[a-z0-9]+", key):  # keys are validated; refuse anything that could inject a role
        raise ValueError(f"not a paper key: {key!r}")
    if in_book_build():
        return f"{{footcite:t}}`{key}`"
    return f"[{escape(text)}]({url})" if url else escape(text)


def papers_markdown(papers: pd.DataFrame, topic_titles: dict[str, str]) -> str:
    """One row per paper: name, citation, venue and code; then the survey's summary and topics."""
    lines = ["| Paper | Summary |", "|---|---|"]
    for row in papers.sort_values(["year", "key"]).itertuples():
        who = f"{row.first_author.split()[-1]} et al. {row.year}" if row.first_author else str(row.year)
        venue = escape(short_venue(row.venue)) + (f" · [code]({row.code})" if row.code else "")
        name = f"**{escape(row.label)}**<br>{cite(row.key, who, row.url)}<br>{venue}"
        topics = ", ".join(escape(topic_titles.get(t, t)) for t in row.topics)
        lines.append(f"| {name} | {escape(row.summary)}<br>*Topics: {topics}* |")
    return "\n".join(lines)


def papers_table(papers: pd.DataFrame, topic_titles: dict[str, str]):
    """The table as a displayable object (rendered by the book, readable in Jupyter and Colab)."""
    from IPython.display import Markdown

    return Markdown(papers_markdown(papers, topic_titles))


def taxonomy_markdown(dataset) -> str:
    """Chapters and their topics, with how many papers list each topic."""
    counts = dataset.paper_topics.groupby("topic").size()
    lines = ["| Chapter | Topic | Papers | What it covers |", "|---|---|---|---|"]
    for chapter in dataset.taxonomy.chapters:
        for i, topic in enumerate(chapter.topics):
            name = f"**{escape(chapter.title)}**" if i == 0 else ""
            lines.append(
                f"| {name} | {escape(topic.title)} | {int(counts.get(topic.id, 0))} | {escape(topic.description)} |"
            )
    return "\n".join(lines)


def taxonomy_table(dataset):
    from IPython.display import Markdown

    return Markdown(taxonomy_markdown(dataset))


def last_updated(dataset):
    """One line for the top of a chapter: when its newest paper was added, how much it holds, and
    (on the site) where to download the chapter's papers."""
    from IPython.display import Markdown

    papers, results = dataset.papers, dataset.results
    newest = papers["added"].max()
    line = (
        f"*Last updated {newest:%Y-%m-%d}: {len(papers)} papers and {len(results)} reported results in this chapter.*"
    )
    if in_book_build() and dataset.scope.startswith("chapter:"):
        folder = f"../downloads/chapters/{dataset.scope.removeprefix('chapter:')}"
        links = [
            ("CSV", "papers.csv"),
            ("results CSV", "results.csv"),
            ("JSON", "atlas.json"),
            ("BibTeX", "papers.bib"),
        ]
        # raw links: the files are written into the site after Sphinx, so they are no cross-references
        line += " Download them: " + ", ".join(f'<a href="{folder}/{file}">{name}</a>' for name, file in links) + "."
    return Markdown(line)


def whats_new_markdown(dataset, days: int = 90, limit: int = 60) -> str:
    """The papers added most recently, grouped by the chapter of their primary topic.

    The window ends at the newest `added` date rather than today, so a rebuild from the same data
    always shows the same page. At most `limit` papers are listed (newest additions first, and among
    those added the same day the newest work first): a page of hundreds of rows is no news, and the
    paper explorer lists them all.
    """
    papers = dataset.papers
    if papers.empty:
        return "No papers yet."
    end = papers["added"].max()
    recent = papers[papers["added"] > end - pd.Timedelta(days=days)]
    shown = recent.sort_values(["added", "year", "key"], ascending=[False, False, True]).head(limit)
    titles = {t.id: t.title for t in dataset.taxonomy.topics.values()}
    intro = f"{len(recent)} papers were added in the {days} days up to {end:%Y-%m-%d}."
    if len(shown) < len(recent):
        intro += (
            f" The {len(shown)} most recent are listed here. The {{doc}}`paper explorer <papers>` lists"
            " every paper, and the {doc}`downloads <downloads>` give each one's `added` date."
        )
    parts = [intro]
    for chapter in dataset.taxonomy.chapters:
        rows = shown[shown["chapter"] == chapter.id]
        if len(rows):
            parts.append(f"**{escape(chapter.title)}** ({len(rows)})\n\n{papers_markdown(rows, titles)}")
    return "\n\n".join(parts)


def whats_new(dataset, days: int = 90, limit: int = 60):
    from IPython.display import Markdown

    return Markdown(whats_new_markdown(dataset, days, limit))


def crosswalk_markdown(dataset) -> str:
    """For a reader of each founding survey: every category it uses, and where it lives in the Atlas."""
    from atlas.book.environment import pages_in_book

    taxonomy = dataset.taxonomy
    counts = dataset.paper_topics.groupby("topic").size()
    in_book = {page.removeprefix("book/") for page in pages_in_book()}
    parts = []
    for survey in taxonomy.crosswalk:
        key = survey["survey"]
        row = dataset.papers.set_index("key").loc[key] if key in set(dataset.papers["key"]) else None
        name = escape(row["title"]) if row is not None else key
        who = cite(key, name, row["url"] if row is not None else "")
        lines = [
            f"### {name}",
            "",
            f"{who}, arXiv {escape(survey.get('arxiv', ''))}.",
            "",
            "| Category in the survey | Where it lives in the Atlas | Papers |",
            "|---|---|---|",
        ]
        for category in survey["categories"]:
            places, total = [], 0
            for topic_id in category["topics"]:
                topic = taxonomy.topics[topic_id]
                chapter = taxonomy.chapter(topic.chapter)
                where = (
                    f"{{doc}}`{escape(chapter.title)} <{chapter.id}>`"
                    if chapter.id in in_book
                    else escape(chapter.title)
                )
                places.append(f"{where}: {escape(topic.title)}")
                total += int(counts.get(topic_id, 0))
            lines.append(f"| {escape(category['category'])} | {'<br>'.join(places)} | {total} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def crosswalk(dataset):
    from IPython.display import Markdown

    return Markdown(crosswalk_markdown(dataset))

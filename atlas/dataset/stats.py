"""`python -m atlas stats`: what the dataset holds and where its gaps are, as plain text."""

from atlas.data import Dataset

MIN_PER_TOPIC = 5


def report(ds: Dataset, show_keys: bool = False) -> str:
    papers, pairs, results = ds.papers, ds.paper_topics, ds.results
    built = papers[papers["kind"].isin(["method", "system"])]
    with_results = int((built["n_results"] > 0).sum())
    share = with_results / len(built) if len(built) else 0.0
    out = [
        f"{len(papers)} papers, {len(results)} reported results, {len(pairs)} paper-topic pairs",
        f"method and system papers with results: {with_results} of {len(built)} ({share:.0%})",
        "",
        "papers per chapter and topic (listing the topic / with it as primary topic):",
    ]
    listing = pairs.groupby("topic").size()
    primary = pairs[pairs["primary"]].groupby("topic").size()
    thin = []
    for chapter in ds.taxonomy.chapters:
        in_chapter = pairs.loc[pairs["chapter"] == chapter.id, "key"].nunique()
        out.append(f"  {chapter.title} ({chapter.id}): {in_chapter}")
        for topic in chapter.topics:
            n = int(listing.get(topic.id, 0))
            out.append(f"    {topic.id:<32} {n:>4} / {int(primary.get(topic.id, 0)):>3}")
            if n < MIN_PER_TOPIC:
                thin.append(topic.id)
    out += ["", "papers per year of first version:"]
    out += [f"  {year}: {n}" for year, n in papers.groupby("year").size().items()]
    out += ["", "by kind: " + ", ".join(f"{k} {n}" for k, n in papers.groupby("kind").size().items())]

    gaps = {
        "no venue (preprint only)": papers[~papers["peer_reviewed"]],
        "no code link": papers[papers["code"] == ""],
        "no DOI": papers[papers["doi"] == ""],
        "no arXiv id": papers[papers["arxiv"] == ""],
        "method/system without results": built[built["n_results"] == 0],
    }
    out += ["", "fields left empty:"]
    for label, rows in gaps.items():
        out.append(
            f"  {label}: {len(rows)}" + (f"  [{', '.join(sorted(rows['key']))}]" if show_keys and len(rows) else "")
        )
    out += ["", f"topics with fewer than {MIN_PER_TOPIC} papers: " + (", ".join(thin) if thin else "none")]
    return "\n".join(out)

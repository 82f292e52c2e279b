"""The site's paper explorer and results view: every paper and every reported number, filterable in
the reader's browser with no kernel and no network.

A page calls `explorer.papers(ds)` or `explorer.results(ds)`; each returns HTML holding the rows as
a JSON data island and an empty container, which `book/_static/atlas-explorer.js` (served by the
site) turns into filters, search, sorting and a table. Every string reaches the page through the
DOM's textContent, never as markup, so a title holding `<script>` shows as text.
"""

import hashlib
import json

from atlas.book.environment import pages_in_book
from atlas.tables import short_venue

_SCRIPT = "atlas-explorer.js"


def _safe_json(payload) -> str:
    """JSON that cannot close the <script> element it sits in."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def papers_payload(ds) -> dict:
    """What the explorer shows of each paper, plus the vocabularies its filters offer."""
    taxonomy = ds.taxonomy
    in_book = {page.removeprefix("book/") for page in pages_in_book()}
    rows = []
    for p in ds.papers.itertuples():
        rows.append(
            {
                "key": p.key,
                "title": p.title,
                "authors": p.authors,
                "year": int(p.year),
                "venue": short_venue(p.venue),
                "peer_reviewed": bool(p.peer_reviewed),
                "chapter": p.chapter,
                "topics": list(p.topics),
                "stages": list(p.stages),
                "kind": p.kind,
                "url": p.url,
                "code": p.code,
                "summary": p.summary,
                "results": int(p.n_results),
            }
        )
    return {
        "kind": "papers",
        "rows": rows,
        "chapters": [
            {"id": c.id, "title": c.title, "page": f"{c.id}.html" if c.id in in_book else ""} for c in taxonomy.chapters
        ],
        "topics": [{"id": t.id, "title": t.title, "chapter": t.chapter} for t in taxonomy.topics.values()],
        "stages": list(taxonomy.stages),
        "kinds": list(taxonomy.kinds),
        "bibtex": "../downloads/papers.bib",
    }


def results_payload(ds) -> dict:
    results = ds.results
    rows = [
        {
            "key": r.key,
            "label": r.label,
            "title": r.title,
            "year": int(r.year),
            "chapter": r.chapter,
            "metric": r.metric,
            "metric_title": r.metric_title,
            "unit": r.unit,
            "better": r.better,
            "value": float(r.value),
            "baseline": r.baseline,
            "baseline_value": None if r.baseline_value != r.baseline_value else float(r.baseline_value),
            "precision": r.precision,
            "setting": r.setting,
            "where": r.where,
        }
        for r in results.itertuples()
    ]
    urls = dict(zip(ds.papers["key"], ds.papers["url"], strict=True))
    for row in rows:
        row["url"] = urls.get(row["key"], "")
    return {
        "kind": "results",
        "rows": rows,
        "chapters": [{"id": c.id, "title": c.title} for c in ds.taxonomy.chapters],
        "metrics": [{"id": m.id, "title": m.title, "unit": m.unit} for m in ds.taxonomy.metrics.values()],
    }


def _page(payload: dict):
    from IPython.display import HTML

    data = _safe_json(payload)
    element = f"atlas-{payload['kind']}-" + hashlib.sha1(data.encode()).hexdigest()[:10]
    return HTML(
        f'<div id="{element}" class="atlas-explorer" data-kind="{payload["kind"]}">'
        f"<p>Loading the {len(payload['rows'])} rows...</p></div>\n"
        f'<script type="application/json" id="{element}-data">{data}</script>\n'
        f'<script type="text/javascript">atlasExplorer("{element}");</script>'
    )


def papers(ds):
    """Every paper of the dataset, filterable by chapter, topic, stage, kind, year and venue."""
    return _page(papers_payload(ds))


def results(ds):
    """Every reported number as data, filterable by chapter, metric and paper."""
    return _page(results_payload(ds))

"""The claims ledger: every claim the book's pages recorded in this build, on one page.

A page holds the directive

    ```{atlas-claims}
    ```

which renders, when Sphinx reads that page, the claims collected from the pages of the same build
(atlas.book.execute's records, updated just before reading starts). The page is re-read whenever
the set of claims changes, so the ledger never shows a claim a chapter no longer makes.
"""

import hashlib
import html
import json
import posixpath

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from atlas import paths
from atlas.dataset import taxonomy

VERDICT = {"reproduced": "✓ reproduced", "not reproduced": "✗ not reproduced", "inconclusive": "~ inconclusive"}


def collected(records, docnames) -> list[dict]:
    """The claims of the given pages, in page order, each with its page."""
    return [
        {**claim, "page": docname}
        for docname, record in sorted(records.pages.items())
        if docname in docnames
        for claim in record["claims"]
    ]


def digest(claims: list[dict]) -> str:
    return hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).hexdigest()


def _value(number, unit) -> str:
    if number is None:
        return ""
    text = f"{number:.3g}"
    return f"{text}{unit}" if unit in ("x", "%") else f"{text} {unit}".strip()


def render(claims: list[dict], from_doc: str, titles: dict[str, str]) -> str:
    """The ledger as HTML; every string from a chapter or the dataset is escaped."""
    e = html.escape
    counts = {v: sum(c["verdict"] == v for c in claims) for v in VERDICT}
    pages = sorted({c["page"] for c in claims})
    parts = [
        f'<p class="atlas-ledger-summary">{len(claims)} claims from {len(pages)} page{"s" if len(pages) != 1 else ""}: '
        + ", ".join(f"{n} {v}" for v, n in counts.items())
        + ".</p>",
        '<div class="atlas-results-scroll"><table class="atlas-ledger table"><thead><tr>'
        "<th>Claim</th><th>The paper reports</th><th>Measured here</th><th>Direction</th></tr></thead><tbody>",
    ]
    for c in claims:
        r, m = c["reported"], c["measured"]
        href = posixpath.relpath(c["page"], posixpath.dirname(from_doc)) + ".html#" + c["anchor"]
        page = titles.get(c["page"], c["page"])
        baseline = f" against {e(r['baseline'])}" if r.get("baseline") else ""
        if r.get("baseline_value") is not None:
            baseline += f" ({_value(r['baseline_value'], c['unit'])})"
        toy_baseline = (
            f" against {_value(m['baseline_value'], c['unit'])}" if m.get("baseline_value") is not None else ""
        )
        spread = f" ± {_value(m['spread'], c['unit'])}" if m.get("spread") else ""
        paper = f'<a href="{e(c["url"])}">{e(c["title"])}</a>' if c.get("url", "").startswith("http") else e(c["title"])
        parts.append(
            "<tr>"
            f'<td><a href="{e(href)}"><code>{e(c["id"])}</code></a><br><small>{e(page)}</small></td>'
            f"<td><strong>{e(_value(r['value'], c['unit']))}</strong> {e(r['metric_title'].lower())}{baseline}"
            f"<br><small>{paper}; {e(r['setting'])}; {e(r['where'])}</small></td>"
            f"<td><strong>{e(_value(m['value'], c['unit']))}</strong>{e(spread)}{toy_baseline}"
            f"<br><small>{e(m['setting'])}</small></td>"
            f'<td class="atlas-verdict atlas-verdict-{e(c["verdict"].replace(" ", "-"))}">{e(VERDICT[c["verdict"]])}'
            f"<br><small>{e(c['criterion'])}</small></td>"
            "</tr>"
        )
    parts.append("</tbody></table></div>")
    return "\n".join(parts)


class ClaimsDirective(SphinxDirective):
    has_content = False

    def run(self):
        from atlas.book import sphinx_ext

        env = self.env
        records = sphinx_ext._records(env)
        claims = collected(records, env.found_docs)
        chapters = {f"book/{c.id}": c.title for c in taxonomy.load(paths.taxonomy_file(paths.root())).chapters}
        titles = {d: chapters.get(d, d.rsplit("/", 1)[-1]) for d in {c["page"] for c in claims}}
        return [nodes.raw("", render(claims, env.docname, titles), format="html")]


def pages_with_ledger(env) -> list[str]:
    """The pages that show the ledger (re-read whenever the claims change)."""
    return [d for d in sorted(env.found_docs) if "{atlas-claims}" in _source(env, d)]


def _source(env, docname: str) -> str:
    try:
        with open(env.doc2path(docname), encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""

"""Sphinx hooks that keep the built book honest, fast and self-contained.

- Fresh outputs, executed in parallel: before Sphinx reads the pages, every notebook page whose
  code, inputs or environment changed is executed (atlas.book.execute), several at a time, and its
  outputs are stored in Jupyter Book's execution cache, where myst-nb finds them. A page is never
  served with outputs computed from inputs it no longer has.
- Offline charts: the vega, vega-lite and vega-embed libraries are written into the site's own
  _static folder, and ATLAS_BOOK_BUILD=1 tells atlas.charts (in the notebook kernels) to emit
  charts that use them.
- Downloads: the dataset is exported into the site (downloads/), with the claims the pages of this
  build recorded (downloads/claims.json).
"""

import functools
import json
import os
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

from atlas import claims
from atlas.book import dependencies, execute, ledger
from atlas.book.environment import BOOK_BUILD_ENV

logger = logging.getLogger(__name__)

BUNDLE = "vega/atlas-vega.js"
# wraps vl-convert's bundle in a function scope (its top-level names clash with Sphinx's own
# scripts) and adds the one entry point that chart outputs call
_BUNDLE_WRAPPER = """/* vega {vega}, vega-lite {vl}, vega-embed {embed}: served by the site, no CDN */
(function () {{
{bundle}
}})();
window.atlasEmbed = function (selector, spec) {{
  var options = {{renderer: "svg", actions: {{export: true, source: false, compiled: false, editor: false}}}};
  window.vegaEmbed(selector, spec, options).catch(function (error) {{
    var el = document.querySelector(selector);
    if (el) {{ el.textContent = "This chart could not be drawn: " + error; }}
    console.error(error);
  }});
}};
"""


def vega_bundle(cache_dir: Path) -> str:
    """The wrapped bundle, generated once per vl-convert and Vega-Lite version and cached."""
    import altair as alt
    import vl_convert as vlc

    vl_version = alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0]
    cached = Path(cache_dir) / f"atlas-vega-{vlc.__version__}-vl{vl_version}.js"
    if not cached.exists():
        text = _BUNDLE_WRAPPER.format(
            vega=vlc.get_vega_version(),
            vl=vl_version,
            embed=vlc.get_vega_embed_version(),
            bundle=vlc.javascript_bundle(vl_version=vl_version),
        )
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(text, encoding="utf-8")
    return cached.read_text(encoding="utf-8")


def _builder_inited(app):
    os.environ[BOOK_BUILD_ENV] = "1"
    app.add_js_file(BUNDLE)


def _records(env) -> execute.Records:
    return execute.Records(Path(env.mystnb_config.execution_cache_path + ".atlas-pages.json"))


def _read_notebook(env, docname):
    """The page as myst-nb will read it (so its cache key is the one myst-nb looks up), or None
    for a page that is plain Markdown."""
    from myst_nb.core.read import create_nb_reader

    path = env.doc2path(docname)
    text = Path(path).read_text(encoding="utf-8")
    reader = create_nb_reader(str(path), env.myst_config, env.mystnb_config, text)
    return None if reader is None else reader.read(text)


def _execute_stale(app, env, docnames):
    """Execute the stale notebook pages in parallel, cache their outputs, and have Sphinx re-read them."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    root = Path(app.srcdir)
    cache = get_cache(env.mystnb_config.execution_cache_path)
    cached = {record.hashkey: record.pk for record in cache.list_cache_records()}
    records = _records(env)
    snapshot = dependencies.Snapshot(root)
    cached_keys = set(cached)
    config = (root / "_config.yml").read_bytes()
    jobs = []
    for docname in sorted(env.found_docs):
        # a page whose file is unchanged has the cache key it had: parsing every page to recompute
        # it was a quarter of a no-op build
        source = dependencies.digest_of(Path(env.doc2path(docname)).read_bytes(), config)
        known = records.pages.get(docname, {})
        if known.get("source") == source and records.is_fresh(docname, known["hashkey"], snapshot, cached_keys):
            continue
        notebook = _read_notebook(env, docname)
        if notebook is None:
            continue
        _, hashkey = cache.create_hashed_notebook(notebook)
        if not records.is_fresh(docname, hashkey, snapshot, cached_keys):
            jobs.append(execute.Job(docname, notebook, Path(env.doc2path(docname)).parent, hashkey, source))
        elif known.get("source") != source:
            known["source"] = source  # an edit that left the code alone (prose): still fresh
    jobs.sort(key=lambda j: -records.pages.get(j.docname, {}).get("seconds", 1e9))  # longest (or new) first
    outcomes = execute.run(jobs, root, env.mystnb_config.execution_timeout, report=logger.info)
    for outcome in outcomes:
        if outcome.error:
            continue
        try:
            records.update(outcome, snapshot)
        except ValueError as err:
            outcome.error = str(err)
            continue
        claims.strip(outcome.notebook)  # collected in the record; the page shows their Markdown
        path = str(env.doc2path(outcome.job.docname))
        data = {"execution_seconds": outcome.seconds}
        cache.cache_notebook_bundle(
            CacheBundleIn(outcome.notebook, path, data=data), check_validity=False, overwrite=True
        )
        if outcome.job.docname not in docnames:
            docnames.append(outcome.job.docname)
    failed = [o for o in outcomes if o.error]
    records.keep_only(env.found_docs)
    for docname in _pages_citing_changed_entries(env, records.bibliography, snapshot.entry_digests()):
        if docname not in docnames:
            docnames.append(docname)
    if records.ledger != ledger.digest(ledger.collected(records, env.found_docs)):
        docnames.extend(d for d in ledger.pages_with_ledger(env) if d not in docnames)
    records.save()
    _prune_cache(cache, records)
    if failed:
        details = "\n\n".join(f"{env.doc2path(o.job.docname)}: {o.error}" for o in failed)
        raise ExtensionError(f"{len(failed)} page(s) failed to execute:\n{details}")


def _prune_cache(cache, records) -> None:
    """Drop cached executions no page uses any more, so the cache does not grow without bound."""
    wanted = {r["hashkey"] for r in records.pages.values()}
    for record in cache.list_cache_records():
        if record.hashkey not in wanted:
            cache.remove_cache(record.pk)


def _write_site_files(app, exception):
    """After a successful HTML build: the vega bundle, the dataset's downloads (book/downloads.md) and
    the claims the pages of this build carry."""
    if exception is not None or app.builder.format != "html":
        return
    from atlas import data
    from atlas.dataset import export

    target = Path(app.outdir) / "_static" / BUNDLE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(vega_bundle(Path(app.outdir).parent / ".atlas"), encoding="utf-8")
    downloads = Path(app.outdir) / "downloads"
    records = _records(app.env)
    # the downloads are rewritten when the dataset or the version they are stamped with changed
    snapshot = dependencies.Snapshot(Path(app.srcdir))
    stamp = dependencies.digest_of(
        snapshot.digest("dataset", "all").encode(),
        json.dumps(export.version(Path(app.srcdir)), sort_keys=True).encode(),
    )
    if records.downloads != stamp or not (downloads / "datapackage.json").exists():
        export.write(data.load(Path(app.srcdir)), downloads)
        records.downloads = stamp
    claims_of_build = ledger.collected(records, app.env.found_docs)
    (downloads / "claims.json").write_text(json.dumps(claims_of_build, indent=1, sort_keys=True), encoding="utf-8")
    records.bibliography = snapshot.entry_digests()
    records.ledger = ledger.digest(claims_of_build)
    records.save()


def _pages_citing_changed_entries(env, before: dict[str, str] | None, now: dict[str, str]) -> list[str]:
    """The pages a change to bib/ must have Sphinx re-read, because their citations are formatted
    when a page is read. A page whose tables cite a paper from the dataset read that paper, so an
    edit to its entry re-executes the page already (atlas.book.dependencies); what is left are the
    pages that cite the changed keys in their own text, and the ledger pages, which name papers."""
    if before is None:
        return sorted(env.found_docs)
    changed = {key for key in before.keys() | now.keys() if before.get(key) != now.get(key)}
    if not changed:
        return []

    def cites(docname):
        text = Path(env.doc2path(docname)).read_text(encoding="utf-8")
        return any(key in text for key in changed)

    return sorted({d for d in env.found_docs if cites(d)} | set(ledger.pages_with_ledger(env)))


def _drop_thebe(app, pagename, templatename, context, doctree):
    """Jupyter Book always loads sphinx-thebe, which points at a CDN and declares its config twice.
    The Atlas runs code in Colab instead, so its scripts are left out of every page."""

    def is_thebe(script):
        body = getattr(script, "attributes", {}).get("body", "") or ""
        return "sphinx-thebe" in str(getattr(script, "filename", script) or "") or "THEBE_JS_URL" in body

    if "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if not is_thebe(s)]


def _cache_plugin_lookups() -> None:
    """pybtex looks its plugins up in the installed packages' entry points afresh for every citation
    (four lookups each, every one a scan of all installed distributions): measured, that was half
    of the book's Sphinx time. The installed packages do not change during a build, so each lookup
    is made once; plugins registered at run time are still checked first, as before."""
    import pybtex.plugin
    import sphinxcontrib.bibtex.plugin as bibtex_plugin

    if getattr(pybtex.plugin.entry_points, "atlas_cached", False):
        return
    pybtex_lookup, bibtex_lookup = pybtex.plugin.entry_points, bibtex_plugin._entry_points

    @functools.cache
    def pybtex_entry_points(group=None, name=None):
        return tuple(pybtex_lookup(group=group, name=name) if name is not None else pybtex_lookup(group=group))

    @functools.cache
    def bibtex_entry_points(group, name):
        return tuple(bibtex_lookup(group=group, name=name))

    def cached(**query):
        return pybtex_entry_points(**query)

    cached.atlas_cached = True
    pybtex.plugin.entry_points = cached
    bibtex_plugin._entry_points = bibtex_entry_points


def setup(app):
    _cache_plugin_lookups()
    app.add_directive("atlas-claims", ledger.ClaimsDirective)
    app.add_js_file("atlas-explorer.js")
    app.connect("builder-inited", _builder_inited)
    app.connect("html-page-context", _drop_thebe)
    app.connect("env-before-read-docs", _execute_stale)
    app.connect("build-finished", _write_site_files)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}

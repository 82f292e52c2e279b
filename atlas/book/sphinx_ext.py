"""Sphinx hooks that keep the built book honest and self-contained.

- Stale outputs: Jupyter Book's execution cache is keyed on a notebook's code alone, so editing a
  paper's YAML would leave charts drawn from old data. We fingerprint everything a notebook reads
  (bib/, data/ and the atlas package) and, when it changed since the last build, drop the cached
  executions and mark every page outdated so each notebook runs again.
- Offline charts: the vega, vega-lite and vega-embed libraries are written into the site's own
  _static folder, and ATLAS_BOOK_BUILD=1 tells atlas.charts (in the notebook kernels) to emit
  charts that use them.
- Downloads: the dataset is exported into the site (downloads/), so readers get the data the
  charts were drawn from.
"""

import hashlib
import os
from pathlib import Path

from atlas import paths
from atlas.book.environment import BOOK_BUILD_ENV

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


def data_fingerprint(root: Path | None = None) -> str:
    """A hash of every file a notebook's output depends on besides its own code."""
    root = Path(root or paths.root())
    digest = hashlib.sha256()
    files = []
    for folder, pattern in (("bib", "*.bib"), ("data", "*"), ("atlas", "*.py")):
        files += [p for p in (root / folder).rglob(pattern) if p.is_file() and "__pycache__" not in p.parts]
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


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
    os.environ[BOOK_BUILD_ENV] = "1"  # inherited by the notebook kernels the build starts
    app.add_js_file(BUNDLE)


def _outdated(app, env, added, changed, removed):
    """Two records of the fingerprint, for two different things that can go stale:
    the one beside the execution cache says which data the cached outputs were computed from;
    the one in Sphinx's environment (saved only when a build succeeds) says which data the stored
    pages were read with, so a build that failed half-way re-reads them next time."""
    fingerprint = data_fingerprint()
    _check_execution_cache(env, fingerprint)
    if getattr(env, "atlas_data_fingerprint", None) == fingerprint:
        return []
    env.atlas_data_fingerprint = fingerprint
    return sorted(set(env.found_docs) - set(added) - set(changed))


def _check_execution_cache(env, fingerprint: str) -> None:
    config = getattr(env, "mystnb_config", None)  # myst-nb resolves the cache's path there
    cache_path = Path(getattr(config, "execution_cache_path", "") or "")
    if not str(cache_path) or str(cache_path) == ".":
        return
    record = cache_path.with_name(cache_path.name + ".atlas-data-fingerprint")
    if record.exists() and record.read_text() == fingerprint:
        return
    if cache_path.exists():  # computed from other (or unknown) data: none of it may be reused
        from jupyter_cache import get_cache

        cache = get_cache(str(cache_path))
        for cached in cache.list_cache_records():
            cache.remove_cache(cached.pk)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(fingerprint)


def _write_site_files(app, exception):
    """After a successful HTML build: the vega bundle, and the dataset's downloads (book/data.md)."""
    if exception is not None or app.builder.format != "html":
        return
    from atlas import data
    from atlas.dataset import export

    target = Path(app.outdir) / "_static" / BUNDLE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(vega_bundle(Path(app.outdir).parent / ".atlas"), encoding="utf-8")
    export.write(data.load(), Path(app.outdir) / "downloads")


def _drop_thebe(app, pagename, templatename, context, doctree):
    """Jupyter Book always loads sphinx-thebe, which points at a CDN and declares its config twice.
    The Atlas runs code in Colab instead, so its scripts are left out of every page."""

    def is_thebe(script):
        body = getattr(script, "attributes", {}).get("body", "") or ""
        return "sphinx-thebe" in str(getattr(script, "filename", script) or "") or "THEBE_JS_URL" in body

    if "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if not is_thebe(s)]


def setup(app):
    app.connect("builder-inited", _builder_inited)
    app.connect("html-page-context", _drop_thebe)
    app.connect("env-get-outdated", _outdated)
    app.connect("build-finished", _write_site_files)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}

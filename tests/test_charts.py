"""Chart output: offline HTML in the book build, safe against hostile strings, valid Vega-Lite."""

import json
import os
import subprocess
import sys

import pandas as pd

from atlas import charts, data


def test_offline_html_cannot_break_out_of_its_script(dataset):
    spec = {"data": {"values": [{"title": "</script><script>alert(1)</script>"}]}, "mark": "point"}
    html = charts.offline_html(spec)["text/html"]
    assert html.count("</script>") == 1  # only the one closing the chart's own script
    assert "alert(1)" in html and "<script>alert" not in html
    assert json.loads(html.split(", ", 1)[1].rsplit(");", 1)[0]) == spec  # the escaped JSON decodes back exactly


def test_book_build_switches_the_renderer():
    code = "import altair as alt, atlas.charts; print(alt.renderers.active)"
    env = {**os.environ, "ATLAS_BOOK_BUILD": "1"}
    assert (
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()
        == "atlas-offline"
    )
    env.pop("ATLAS_BOOK_BUILD")
    assert (
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()
        != "atlas-offline"
    )


def test_builders_give_valid_specs_with_the_data(dataset):
    ds = data.load()
    chapter = ds.chapter("quantization")
    for chart in (
        charts.papers_per_year(chapter.paper_topics),
        charts.papers_by_chapter(ds.papers, ds.taxonomy),
        charts.reported_ratios(chapter.results),
        charts.quality_vs_bits(chapter.results),
        charts.weight_memory_calculator(),
    ):
        spec = chart.to_dict()  # altair validates against the Vega-Lite schema here
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def test_quality_vs_bits_plots_only_complete_rows(dataset):
    results = data.load().results
    plotted = pd.DataFrame(charts.quality_vs_bits(results).to_dict()["datasets"].popitem()[1])
    expected = results[(results.metric == "perplexity") & results.baseline_value.notna() & results.weight_bits.notna()]
    assert len(plotted) == len(expected) > 0
    assert (plotted["increase"] == (plotted["value"] - plotted["baseline_value"]).round(3)).all()

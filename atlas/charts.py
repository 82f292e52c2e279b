"""The book's charts: one theme, an offline renderer for the built site, and builders the chapters share.

Importing this module is all a notebook does to get the right output for where it runs: in
Jupyter and Colab altair renders natively; in the book build (see atlas.book.environment) charts are emitted as HTML that calls the vega libraries served from the site
itself, so pages work with no network.
"""

import hashlib
import html as html_lib
import json

import altair as alt
import pandas as pd

from atlas.book.environment import in_book_build

# Paul Tol's "muted" scheme, designed to stay distinguishable with colour-vision deficiencies, then
# black and a mid grey for the eleventh and twelfth categories.
PALETTE = ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499",
           "#DDDDDD", "#000000", "#777777"]  # fmt: skip
# At a 1280 px window the book's content column is 688 px wide (the 752 px article less its padding).
# A chart's plot area is WIDTH wide; axis labels take up to AXIS_LABEL_LIMIT beside it and legends go
# below it in two columns, so the whole chart, legend included, fits the column.
COLUMN = 688
WIDTH = 520
AXIS_LABEL_LIMIT = 150


@alt.theme.register("atlas", enable=True)
def _theme():
    return alt.theme.ThemeConfig(
        {
            "config": {
                "view": {"continuousWidth": WIDTH, "continuousHeight": 300, "stroke": None},
                "range": {"category": PALETTE},
                "axis": {
                    "labelFontSize": 12,
                    "titleFontSize": 12,
                    "grid": True,
                    "gridColor": "#eeeeee",
                    "labelLimit": AXIS_LABEL_LIMIT,
                },
                "legend": {
                    "labelFontSize": 12,
                    "titleFontSize": 12,
                    "labelLimit": 260,
                    "orient": "bottom",
                    "direction": "horizontal",
                    "columns": 2,
                    "symbolLimit": 60,
                },
                "title": {"fontSize": 14, "anchor": "start"},
                "font": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            }
        }
    )


def _script_safe_json(spec: dict) -> str:
    """JSON that cannot close the <script> element it sits in, whatever a paper's title holds."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def text_alternative(spec: dict) -> str:
    """What a screen reader announces for a chart: its description, else its title."""
    title = spec.get("title", "")
    if isinstance(title, dict):
        title = title.get("text", "")
    if isinstance(title, list):
        title = " ".join(title)
    return " ".join(str(spec.get("description") or title or "A chart").split())


def offline_html(spec: dict, **_options) -> dict:
    """An altair renderer: a div plus a call to `atlasEmbed`, defined by the site's own vega bundle."""
    payload = _script_safe_json(spec)
    chart_id = "atlas-chart-" + hashlib.sha1(payload.encode()).hexdigest()[:12]  # stable across rebuilds
    label = html_lib.escape(text_alternative(spec), quote=True)
    html = (
        f'<div id="{chart_id}" class="atlas-chart" role="figure" aria-label="{label}"></div>\n'
        f'<script type="text/javascript">atlasEmbed("#{chart_id}", {payload});</script>'
    )
    return {"text/html": html}


alt.renderers.register("atlas-offline", offline_html)
if in_book_build():
    alt.renderers.enable("atlas-offline")


# --- builders ---------------------------------------------------------------------------------------


def _papers_per_year(rows: pd.DataFrame, group: str, title: str, order=None) -> alt.Chart:
    """Stacked bars of `papers` per year, one colour per `group`; a click on the legend highlights one."""
    pick = alt.selection_point(fields=[group], bind="legend")
    return (
        alt.Chart(rows, title=title)
        .mark_bar()
        .encode(
            x=alt.X("year:O", title="year of first version"),
            y=alt.Y("papers:Q", title="papers", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color(f"{group}:N", title=group, sort=order),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.25)),
            tooltip=["year:O", f"{group}:N", "papers:Q"],
        )
        .add_params(pick)
        .properties(
            width=WIDTH, height=260, description=f"{title}: stacked bars of papers per year, one colour per {group}."
        )
    )


def papers_per_year(paper_topics: pd.DataFrame, title: str = "Papers per year, by topic") -> alt.Chart:
    """Papers per year, each counted once under its first topic among the rows given (pass a
    chapter's rows to count papers under that chapter's topics)."""
    first = paper_topics.drop_duplicates("key")  # rows keep each paper's topic order
    rows = first.groupby(["year", "topic_title"], as_index=False).size()
    return _papers_per_year(rows.rename(columns={"size": "papers", "topic_title": "topic"}), "topic", title)


def papers_by_chapter(papers: pd.DataFrame, taxonomy, title: str = "Papers per year, by chapter") -> alt.Chart:
    """Papers per year, coloured by the chapter of each paper's primary topic."""
    titles = {c.id: c.title for c in taxonomy.chapters}
    rows = papers.assign(chapter=papers["chapter"].map(titles)).groupby(["year", "chapter"], as_index=False).size()
    order = [c.title for c in taxonomy.chapters]
    return _papers_per_year(rows.rename(columns={"size": "papers"}), "chapter", title, order)


def _result_tooltip():
    return [
        alt.Tooltip("label:N", title="paper"),
        alt.Tooltip("value:Q", title="reported"),
        alt.Tooltip("unit:N", title="unit"),
        alt.Tooltip("baseline:N", title="vs"),
        alt.Tooltip("precision:N", title="precision"),
        alt.Tooltip("setting:N", title="setting"),
        alt.Tooltip("where:N", title="where in paper"),
        alt.Tooltip("year:O", title="year"),
    ]


def reported_ratios(
    results: pd.DataFrame,
    metrics=("speedup", "throughput_gain", "memory_reduction", "compression_ratio", "cost_reduction"),
    title: str = "Reported gains over each paper's own baseline",
) -> alt.Chart:
    """One dot per reported ratio (x over baseline), one row per paper, coloured by metric.

    Each paper measures against its own baseline and hardware: the chart shows what was claimed,
    not a like-for-like comparison, and the tooltip says against what.
    """
    rows = results[results["metric"].isin(metrics)].copy()
    rows["metric"] = rows["metric_title"]
    return (
        alt.Chart(rows, title=title)
        .mark_circle(size=110, opacity=0.85)
        .encode(
            x=alt.X("value:Q", title="reported gain (x, log scale)", scale=alt.Scale(type="log")),
            y=alt.Y("label:N", title=None, sort=alt.EncodingSortField("value", op="max", order="descending")),
            color=alt.Color("metric:N", title="metric"),
            tooltip=_result_tooltip(),
        )
        .properties(
            width=WIDTH - 120,
            description=f"{title}: one dot per reported ratio, one row per paper, on a log scale; "
            "each paper measured against its own baseline.",
        )
    )


def quality_vs_bits(
    results: pd.DataFrame, title: str = "Perplexity cost of fewer weight bits (lower is better)"
) -> alt.Chart:
    """Perplexity increase over the 16-bit baseline against weight bits, one point per reported setting."""
    rows = results[
        (results["metric"] == "perplexity") & results["baseline_value"].notna() & results["weight_bits"].notna()
    ].copy()
    rows["increase"] = (rows["value"] - rows["baseline_value"]).round(3)
    rows["precision"] = rows["precision"].astype(str)
    points = (
        alt.Chart(rows, title=title)
        .mark_point(size=120, filled=True, opacity=0.85)
        .encode(
            x=alt.X(
                "weight_bits:Q",
                title="weight bits",
                scale=alt.Scale(domain=[1, 8.5]),
                axis=alt.Axis(values=[2, 3, 4, 8]),
            ),
            y=alt.Y("increase:Q", title="perplexity increase over FP16"),
            color=alt.Color("label:N", title="method"),
            shape=alt.Shape("precision:N", title="precision"),
            tooltip=[
                alt.Tooltip("increase:Q", title="increase"),
                alt.Tooltip("baseline_value:Q", title="FP16 ppl"),
                *_result_tooltip(),
            ],
        )
    )
    return points.properties(
        width=WIDTH - 120,
        height=280,
        description=f"{title}: perplexity increase over the 16-bit baseline against weight bits, one point per reported setting.",
    )


def weight_memory_calculator(default_bits: int = 4, default_group: int = 128) -> alt.Chart:
    """Weights' memory for common model sizes, with sliders for bits and quantization group size.

    Runs in the reader's browser (altair parameters), so the static site stays interactive.
    """
    sizes = pd.DataFrame({"model": ["7B", "13B", "34B", "70B", "405B"], "params_b": [7, 13, 34, 70, 405]})
    bits = alt.param(
        name="bits", value=default_bits, bind=alt.binding_range(min=1, max=16, step=1, name="weight bits ")
    )
    group = alt.param(
        name="group",
        value=default_group,
        bind=alt.binding_select(options=[32, 64, 128, 256, 1024, 4096], name="group size "),
    )
    base = (
        alt.Chart(sizes)
        .transform_calculate(
            fp16="datum.params_b * 2",
            quantized="datum.params_b * (bits + 16 / group) / 8",  # one FP16 scale per group
        )
        .transform_fold(["fp16", "quantized"], as_=["format", "GB"])
    )
    return (
        base.mark_bar()
        .encode(
            x=alt.X("model:N", sort=None, title="model size (parameters)"),
            xOffset="format:N",
            y=alt.Y("GB:Q", title="weight memory (GB)"),
            color=alt.Color(
                "format:N", title="format", scale=alt.Scale(domain=["fp16", "quantized"], range=["#9aa5b1", PALETTE[0]])
            ),
            tooltip=["model:N", "format:N", alt.Tooltip("GB:Q", format=".1f")],
        )
        .add_params(bits, group)
        .properties(
            width=WIDTH - 120,
            height=260,
            title="Weight memory: FP16 vs quantized (move the sliders)",
            description="Calculator: weight memory in GB of 7B to 405B-parameter models in FP16 and at the chosen "
            "bits per weight and group size.",
        )
    )

"""The loader's DataFrames, the plain-text rendering of BibTeX, and the exports."""

import json

import pandas as pd
import pytest

from atlas import data, tables
from atlas.dataset import bibtex, export
from atlas.dataset.problems import DatasetError

from conftest import run_atlas


def test_frames_match_the_files(dataset):
    ds = data.load()
    files = sorted(p.stem for p in (dataset / "data" / "papers").glob("*.yaml"))
    assert sorted(ds.papers["key"]) == files
    assert ds.papers["key"].is_unique
    n_results = sum(
        len(data.validate.yamlio.read(dataset / "data" / "papers" / f"{k}.yaml").get("results") or []) for k in files
    )
    assert len(ds.results) == n_results
    assert set(ds.paper_topics["key"]) == set(files)
    assert ds.paper_topics.groupby("key")["primary"].sum().eq(1).all()


def test_paper_row_joins_bibtex_and_annotations(dataset):
    gptq = data.load().papers.set_index("key").loc["frantar2022gptq"]
    assert gptq["label"] == "GPTQ"
    assert gptq["year"] == 2022
    assert gptq["authors"].startswith("Elias Frantar, Saleh Ashkboos")
    assert gptq["arxiv"] == "2210.17323" and gptq["url"] == "https://arxiv.org/abs/2210.17323"
    assert gptq["chapter"] == "quantization" and gptq["primary_topic"] == "weight-only-quantization"
    assert isinstance(gptq["added"], pd.Timestamp)


def test_results_carry_units_and_parsed_precision(dataset):
    results = data.load().results
    row = results[(results.key == "frantar2022gptq") & (results.metric == "perplexity")].iloc[0]
    assert (row.unit, row.better, row.weight_bits, row.activation_bits) == ("ppl", "lower", 4.0, 16.0)
    assert row.baseline_value == pytest.approx(5.68)


def test_chapter_view(dataset):
    ds = data.load()
    chapter = ds.chapter("quantization")
    assert set(chapter.paper_topics["chapter"]) == {"quantization"}
    assert "dettmers2023qlora" in set(chapter.papers["key"])  # primary topic elsewhere, still in the chapter
    assert set(chapter.results["key"]) <= set(chapter.papers["key"])
    with pytest.raises(KeyError, match="no chapter 'quantisation'"):
        ds.chapter("quantisation")


def test_load_refuses_a_broken_dataset(dataset):
    path = dataset / "data" / "papers" / "frantar2022gptq.yaml"
    path.write_text(path.read_text().replace("kind: method", "kind: nonsense"))
    with pytest.raises(DatasetError, match="frantar2022gptq.yaml:4: kind: unknown kind 'nonsense'"):
        data.load()


@pytest.mark.parametrize(
    "latex, text",
    [
        (r"Sz{\'e}n{\'a}si", "Szénási"),
        (r"M\"{u}ller and \v{S}koda", "Müller and Škoda"),
        (r"{GPTQ}: Accurate {LLM}s --- fast", "GPTQ: Accurate LLMs — fast"),
        (r"Gr{\"o}{\ss}e \& Co.", "Größe & Co."),
        (r"na\"ive \c{c}a", "naïve ça"),
    ],
)
def test_latex_to_text(latex, text):
    assert bibtex.to_text(latex) == text


def test_author_splitting_keeps_braced_names():
    assert bibtex.split_authors("Doe, J. and {Research and Development Team} and Roe, R.") == [
        "Doe, J.",
        "{Research and Development Team}",
        "Roe, R.",
    ]
    assert bibtex.display_name("Rouhani, Bita Darvish") == "Bita Darvish Rouhani"


def test_table_escapes_markup():
    row = pd.DataFrame(
        [
            {
                "key": "doe2024x",
                "label": "<b>X</b>",
                "first_author": "Jane Doe",
                "year": 2024,
                "venue": "Conf (CONF 2024)",
                "code": "",
                "url": "https://arxiv.org/abs/2401.00001",
                "topics": ["weight-only-quantization"],
                "summary": "Uses [links](javascript:x) and <script>.",
            }
        ]
    )
    md = tables.papers_markdown(row, {"weight-only-quantization": "Weight-only"})
    assert "<b>" not in md and "<script>" not in md and "](javascript" not in md
    assert r"\<b\>X\</b\>" in md and "CONF 2024" in md


def test_export_writes_every_format(dataset, tmp_path):
    ds = data.load()
    out = tmp_path / "out"
    written = export.write(ds, out)
    top = sorted(p.name for p in written if p.parent == out)
    assert top == ["atlas.json", "datapackage.json", "paper_topics.csv", "papers.bib", "papers.csv", "results.csv"]
    papers = pd.read_csv(out / "papers.csv")
    assert len(papers) == len(ds.papers) and papers["atlas_version"].nunique() == 1
    payload = json.loads((out / "atlas.json").read_text())
    assert len(payload["results"]) == len(ds.results) and payload["version"]["label"] == papers["atlas_version"][0]
    assert (out / "papers.bib").read_text().startswith("@comment{LLM Efficiency Atlas, version ")
    # the data dictionary describes every column of every table, and nothing else
    package = json.loads((out / "datapackage.json").read_text())
    for resource in package["resources"][:3]:
        described = [f["name"] for f in resource["schema"]["fields"]]
        assert described == list(pd.read_csv(out / resource["path"], nrows=0).columns), resource["name"]
    # each chapter's own files hold exactly its papers
    quant = out / "chapters" / "quantization"
    keys = set(ds.chapter("quantization").papers["key"])
    assert set(pd.read_csv(quant / "papers.csv")["key"]) == keys
    assert quant.joinpath("papers.bib").read_text().count("\n@") == len(keys)


def test_export_cli(dataset, tmp_path):
    result = run_atlas("export", str(tmp_path / "exported"), cwd=dataset)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "exported" / "results.csv").exists()


def test_stats_counts_and_gaps(dataset):
    from atlas.dataset import stats

    ds = data.load()
    text = stats.report(ds, show_keys=True)
    assert text.splitlines()[0].startswith(f"{len(ds.papers)} papers, {len(ds.results)} reported results")
    built = ds.papers[ds.papers.kind.isin(["method", "system"])]
    assert f"method and system papers with results: {int((built.n_results > 0).sum())} of {len(built)}" in text
    assert "topics with fewer than 5 papers: none" in text
    missing_venue = sorted(ds.papers[~ds.papers.peer_reviewed].key)
    assert f"no venue (preprint only): {len(missing_venue)}  [{', '.join(missing_venue)}]" in text
    thin = ds.chapter("scaling")
    thinned = data.Dataset(ds.taxonomy, ds.papers, ds.paper_topics[ds.paper_topics.topic != "scaling-laws"], ds.results)
    assert "topics with fewer than 5 papers: scaling-laws" in stats.report(thinned)
    assert len(thin.papers) > 0


def test_stats_cli(dataset):
    result = run_atlas("stats", cwd=dataset)
    assert result.returncode == 0 and "papers per chapter and topic" in result.stdout


def test_tables_note_what_a_page_reads(dataset, tmp_path, monkeypatch):
    from atlas import reads

    log = tmp_path / "reads.tsv"
    monkeypatch.setenv(reads.LOG_ENV, str(log))
    ds = data.load()
    assert not log.exists()  # loading alone reads nothing on the page's behalf
    chapter = ds.chapter("quantization")
    len(chapter.papers), len(chapter.results)
    assert log.read_text().splitlines() == ["dataset\tchapter:quantization"]
    len(ds.papers)
    assert log.read_text().splitlines()[-1] == "dataset\tall"


def test_whats_new_lists_the_newest_additions_up_to_a_limit(dataset):
    ds = data.load()
    added = ds.papers["added"]
    recent = ds.papers[added > added.max() - pd.Timedelta(days=90)]
    assert len(recent) > 5, "the test needs more than five recent papers"
    text = tables.whats_new_markdown(ds, limit=5)
    rows = [line for line in text.splitlines() if line.startswith("| **")]
    assert len(rows) == 5
    newest = recent.sort_values(["added", "year", "key"], ascending=[False, False, True]).head(5)
    for label in newest["label"]:
        assert any(f"**{tables.escape(label)}**" in row for row in rows), label
    assert f"{len(recent)} papers were added" in text and "The 5 most recent are listed here" in text
    everything = tables.whats_new_markdown(ds, limit=len(recent))
    assert "most recent are listed" not in everything
    assert sum(line.startswith("| **") for line in everything.splitlines()) == len(recent)

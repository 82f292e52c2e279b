"""Claims: the reported side comes from the dataset, the verdict follows the metric, outputs carry them."""

import nbformat
import pytest

from atlas import claims, reads


def test_the_reported_value_is_read_from_the_dataset(dataset):
    claim = claims.make(
        "gptq-ppl", paper="frantar2022gptq", metric="perplexity", measured=7.0, baseline=6.5, setting="toy"
    )
    assert claim.reported["value"] == 6.09 and claim.reported["baseline_value"] == 5.68
    assert claim.reported["where"].startswith("README") and claim.unit == "ppl"
    assert claim.verdict == claims.REPRODUCED  # both worse than their baselines: the paper's direction


def test_an_edited_result_changes_the_claim(dataset):
    record = dataset / "data" / "papers" / "frantar2022gptq.yaml"
    record.write_text(record.read_text().replace("value: 6.09", "value: 6.19"))
    from atlas import data

    data.load()  # the page reloads after the edit; the claim reads what the page read
    claim = claims.make(
        "gptq-ppl", paper="frantar2022gptq", metric="perplexity", measured=7.0, baseline=6.5, setting="toy"
    )
    assert claim.reported["value"] == 6.19


@pytest.mark.parametrize(
    ("measured", "spread", "verdict"),
    [
        (2.0, None, claims.REPRODUCED),
        (0.8, None, claims.NOT_REPRODUCED),
        (1.05, 0.1, claims.INCONCLUSIVE),
        (1.5, 0.1, claims.REPRODUCED),
    ],
)
def test_ratio_verdicts_against_one(dataset, measured, spread, verdict):
    claim = claims.make(
        "speedup",
        paper="frantar2022gptq",
        metric="speedup",
        row="A100",
        measured=measured,
        spread=spread,
        setting="toy",
    )
    assert claim.verdict == verdict and claim.reported["value"] == 3.25


def test_lower_is_better_metrics_flip_the_direction(dataset):
    better = claims.make("ppl", paper="frantar2022gptq", metric="perplexity", measured=5.0, baseline=6.0, setting="t")
    assert better.verdict == claims.NOT_REPRODUCED  # the paper's 4-bit model is worse than FP16; this one is better


def test_refusals_name_the_fix(dataset):
    with pytest.raises(claims.ClaimError, match="atlas add"):
        claims.make("x", paper="nosuch2020paper", metric="speedup", measured=2.0, setting="t")
    with pytest.raises(claims.ClaimError, match="2 match.*row="):
        claims.make("x", paper="frantar2022gptq", metric="speedup", measured=2.0, setting="t")
    with pytest.raises(claims.ClaimError, match="criterion"):
        claims.make(
            "x", paper="frantar2022gptq", metric="speedup", row="A100", measured=2.0, setting="t", reproduces=True
        )
    with pytest.raises(claims.ClaimError, match="finite"):
        claims.make("x", paper="frantar2022gptq", metric="speedup", row="A100", measured=float("nan"), setting="t")
    with pytest.raises(claims.ClaimError, match="letters, digits"):
        claims.make("no spaces", paper="frantar2022gptq", metric="speedup", row="A100", measured=2.0, setting="t")


def test_a_claim_notes_the_paper_it_read(dataset, tmp_path, monkeypatch):
    log = tmp_path / "reads.tsv"
    monkeypatch.setenv(reads.LOG_ENV, str(log))
    claims.make("s", paper="frantar2022gptq", metric="speedup", row="A100", measured=2.0, setting="t")
    assert "dataset\tpaper:frantar2022gptq" in log.read_text()


def test_record_shows_markdown_and_carries_the_claim_in_its_output(dataset):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    captured = []
    shell.display_pub.publish = lambda data, **kw: captured.append(data)
    claims.record("speed", paper="frantar2022gptq", metric="speedup", row="A6000", measured=1.7, setting="toy run")
    bundle = captured[-1]
    assert "Measured here: **1.7x**" in bundle["text/markdown"] and "reproduced" in bundle["text/markdown"]
    payload = bundle[claims.MIME]
    assert payload["id"] == "speed" and payload["reported"]["value"] == 4.5 and payload["measured"]["value"] == 1.7
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("display_data", data=bundle)])]
    )
    assert [c["id"] for c in claims.from_notebook(nb)] == ["speed"] and claims.from_notebook(nb)[0]["cell"] == 0

"""Summaries in the Atlas's own words: the longest run shared with the abstract is found and refused."""

from pathlib import Path

from atlas.dataset import ownwords

from conftest import run_atlas

ABSTRACT = Path(__file__).parent / "fixtures" / "abstracts" / "lv2023full.txt"
COPIED = (
    "LOMO fuses gradient computation with the parameter update. Combined with other memory-saving techniques "
    "this allows full-parameter fine-tuning of a 65B model on a single machine with eight 24GB GPUs."
)


def test_the_longest_shared_run_ignores_case_punctuation_and_hyphens():
    length, run = ownwords.longest_shared_run(COPIED, ABSTRACT.read_text())
    assert length == 13 and run == "full parameter fine tuning of a 65b model on a single machine with"
    assert ownwords.problem(COPIED, ABSTRACT.read_text()).startswith("the summary repeats 13 words")


def test_shared_terms_are_fine():
    own = "An optimizer that updates each weight as soon as its gradient exists, so gradients never pile up."
    length, _ = ownwords.longest_shared_run(own, ABSTRACT.read_text())
    assert length < ownwords.MAX_RUN and ownwords.problem(own, ABSTRACT.read_text()) is None


def test_every_summary_in_the_dataset_that_has_a_fixture_abstract_passes():
    from atlas.dataset import yamlio

    for abstract in (Path(__file__).parent / "fixtures" / "abstracts").glob("*.txt"):
        summary = yamlio.read(Path(__file__).parent.parent / "data" / "papers" / f"{abstract.stem}.yaml")["summary"]
        assert ownwords.problem(summary, abstract.read_text()) is None, abstract.stem


def test_words_command(dataset):
    ok = run_atlas("words", "lv2023full", "--abstract", str(ABSTRACT), cwd=dataset)
    assert ok.returncode == 0, ok.stdout
    record = dataset / "data" / "papers" / "lv2023full.yaml"
    text = record.read_text()
    start = text.index("summary: >-\n")
    end = text.index("\ncode:")
    record.write_text(text[:start] + "summary: >-\n  " + COPIED + text[end:])
    copied = run_atlas("words", "lv2023full", "--abstract", str(ABSTRACT), cwd=dataset)
    assert copied.returncode == 1
    assert copied.stdout.startswith("data/papers/lv2023full.yaml:5: the summary repeats 13 words"), copied.stdout


def test_add_refuses_a_summary_copied_from_the_entry_abstract(dataset, tmp_path):
    entry = tmp_path / "x.bib"
    entry.write_text(
        "@misc{doe2099new,\n  title = {A New Low-Memory Optimizer},\n  author = {Doe, Jane},\n  year = {2099},\n"
        f"  abstract = {{{ABSTRACT.read_text().strip()}}},\n}}\n"
    )
    refused = run_atlas("add", "--bibtex", str(entry), "--topic", "memory-efficient-finetuning", "--summary", COPIED,
                        cwd=dataset)  # fmt: skip
    assert refused.returncode == 1
    assert f"{entry}:5: --summary: the summary repeats 13 words" in refused.stdout, refused.stdout
    assert "Refused; nothing was written." in refused.stderr

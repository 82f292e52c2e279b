"""The validator: a clean dataset passes, and every kind of bad input gets a FILE:LINE message that says what to fix."""

import re
import shutil

import pytest

from atlas.dataset import validate

from conftest import run_atlas

GPTQ = "data/papers/frantar2022gptq.yaml"


def problems(only=None):
    return [str(p) for p in validate.run(only=only).problems]


def edit(path, old, new):
    text = open(path, encoding="utf-8").read()
    assert old in text, f"fixture text {old!r} not in {path}"
    open(path, "w", encoding="utf-8").write(text.replace(old, new, 1))


def line_of(path, needle):
    for number, line in enumerate(open(path, encoding="utf-8"), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def append_bib(text):
    with open("bib/papers.bib", "a", encoding="utf-8") as f:
        f.write("\n" + text)


def copy_record(key, new_key):
    text = open(f"data/papers/{key}.yaml", encoding="utf-8").read().replace(f"key: {key}", f"key: {new_key}")
    open(f"data/papers/{new_key}.yaml", "w", encoding="utf-8").write(text)


def test_the_dataset_is_clean(dataset):
    assert problems() == []


def test_cli_exit_codes_and_format(dataset):
    clean = run_atlas("validate", cwd=dataset)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    edit(GPTQ, "topics: [weight-only-quantization]", "topics: [weight-only-quantisation]")
    broken = run_atlas("validate", cwd=dataset)
    assert broken.returncode == 1
    lines = broken.stdout.strip().splitlines()
    assert lines and all(re.match(r"^[^:\s]+:\d+: \S", line) for line in lines), lines
    assert "Traceback" not in broken.stderr


def test_validate_never_writes(dataset):
    before = {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    edit(GPTQ, "kind: method", "kind: methodd")
    before[dataset / GPTQ] = (dataset / GPTQ).read_bytes()
    run_atlas("validate", cwd=dataset)
    after = {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    assert after == before


def test_malformed_yaml_names_file_and_line(dataset):
    edit(GPTQ, "stages: [inference]", "stages: [inference")
    found = problems()
    assert any(p.startswith(f"{GPTQ}:") and "YAML syntax error" in p for p in found), found
    line = int(next(p for p in found if p.startswith(GPTQ)).split(":")[1])
    assert line >= line_of(GPTQ, "stages:")


def test_unknown_topic_suggests_the_right_one(dataset):
    edit(GPTQ, "topics: [weight-only-quantization]", "topics: [weight-only-quantisation]")
    assert problems() == [
        f"{GPTQ}:{line_of(GPTQ, 'topics:')}: topics[0]: unknown topic 'weight-only-quantisation' "
        "(did you mean 'weight-only-quantization'?); the topics are listed in data/taxonomy.yaml"
    ]


def test_missing_field(dataset):
    edit(GPTQ, "kind: method\n", "")
    assert problems() == [f"{GPTQ}:1: the record: missing `kind` (see CONTRIBUTING.md for the fields)"]


def test_unknown_field_and_bad_result(dataset):
    edit(GPTQ, "kind: method", "kind: method\nvenue: ICLR")
    edit(GPTQ, "value: 3.25", "value: 3.25x")
    edit(GPTQ, "where: Abstract", "where: somewhere in the paper")
    found = problems()
    assert any("unknown field(s) `venue`" in p for p in found), found
    assert any(
        p.startswith(f"{GPTQ}:{line_of(GPTQ, '3.25x')}:") and "results[0].value: must be a number" in p for p in found
    ), found
    assert any(
        "results[0].where: 'somewhere in the paper' is not valid; name the place in the paper" in p for p in found
    ), found


def test_key_must_match_file_name(dataset):
    edit(GPTQ, "key: frantar2022gptq", "key: frantar2022gptqq")
    found = problems()
    assert any("`key` is 'frantar2022gptqq' but the file is named frantar2022gptq.yaml" in p for p in found), found


def test_yaml_without_bibtex_and_bibtex_without_yaml(dataset):
    copy_record("frantar2022gptq", "nobody2024orphan")
    append_bib(
        "@misc{lonely2024entry,\n  title = {A Lonely Entry},\n  author = {Doe, Jane},\n  year = {2024},\n  url = {https://example.org/x},\n}\n"
    )
    found = problems()
    assert (
        "data/papers/nobody2024orphan.yaml:1: no BibTeX entry 'nobody2024orphan' in bib/papers.bib; add it there or rename this file to an existing key"
        in found
    )
    assert any(
        p.startswith("bib/papers.bib:")
        and "entry 'lonely2024entry' has no annotation file; add data/papers/lonely2024entry.yaml" in p
        for p in found
    ), found


def test_duplicate_bibtex_key(dataset):
    append_bib(
        "@misc{frantar2022gptq,\n  title = {Something Else},\n  author = {Doe, Jane},\n  year = {2022},\n  url = {https://example.org/x},\n}\n"
    )
    found = problems()
    assert any("duplicate BibTeX key 'frantar2022gptq'" in p for p in found), found


def test_duplicate_arxiv_id_doi_and_title(dataset):
    append_bib(
        "@misc{other2022gptq,\n  title = {Something Different},\n"
        "  author = {Doe, Jane},\n  year = {2022},\n  eprint = {2210.17323},\n  doi = {10.1000/x1},\n}\n"
        "@misc{third2023copy,\n  title = {Yet Another Paper About Things},\n  author = {Doe, Jane},\n  year = {2023},\n  doi = {10.1000/X1},\n}\n"
        "@misc{fourth2022gptq,\n  title = {{GPTQ}: accurate post-training quantization for generative pre-trained transformers},\n"
        "  author = {Doe, Jane},\n  year = {2022},\n  url = {https://example.org/gptq},\n}\n"
    )
    for key in ("other2022gptq", "third2023copy", "fourth2022gptq"):
        copy_record("frantar2022gptq", key)
    found = problems()
    assert any("entry 'other2022gptq' has the same arXiv id (2210.17323) as 'frantar2022gptq'" in p for p in found), (
        found
    )
    assert any("entry 'third2023copy' has the same DOI (10.1000/x1) as 'other2022gptq'" in p for p in found), found
    assert any("entry 'fourth2022gptq' has nearly the same title as 'frantar2022gptq'" in p for p in found), found
    assert len([p for p in found if "one paper, one record" in p]) == 3  # one message per duplicate pair


def test_malformed_bibtex(dataset):
    append_bib("@misc{broken2024entry,\n  title = {Unclosed,\n  author = {Doe, Jane},\n  year = {2024},\n")
    found = problems()
    assert any(p.startswith("bib/papers.bib:") and "does not parse" in p for p in found), found


def test_entry_that_only_pybtex_rejects(dataset):
    edit("bib/papers.bib", "{Frantar, Elias and Ashkboos", "{Frantar, Elias, Jr, III, X and Ashkboos")
    found = problems()
    assert any("entry 'frantar2022gptq' does not parse in pybtex" in p and "Too many commas" in p for p in found), found


def test_required_bibtex_fields_and_formats(dataset):
    append_bib(
        "@misc{doe2024thing,\n  title = {A Thing},\n  author = {Doe, Jane},\n  year = {2023},\n  eprint = {arXiv:2401.00001v2},\n}\n"
        "@misc{roe2024nothing,\n  title = {Nothing},\n  author = {Roe, R.},\n  year = {2024},\n}\n"
    )
    copy_record("frantar2022gptq", "doe2024thing")
    copy_record("frantar2022gptq", "roe2024nothing")
    found = problems()
    assert any("the year in the key (2024) differs from the year field (2023)" in p for p in found), found
    assert any("eprint 'arXiv:2401.00001v2' is not an arXiv id like 2205.14135" in p for p in found), found
    assert any("entry 'roe2024nothing' needs a way to find the paper" in p for p in found), found


def test_hostile_strings_are_refused(dataset):
    edit("bib/papers.bib", "title         = {{GPTQ}:", "title         = {<script>alert(1)</script>{GPTQ}:")
    edit(GPTQ, "GPTQ quantizes", "GPTQ <img src=x onerror=alert(1)> quantizes")
    found = problems()
    assert any(p.startswith("bib/papers.bib:") and "`title` contains HTML" in p for p in found), found
    assert any(
        p.startswith(f"{GPTQ}:{line_of(GPTQ, 'summary:')}") or p.startswith(f"{GPTQ}:") and "contains HTML" in p
        for p in found
    ), found


def test_stale_schema(dataset):
    edit("data/schema/paper.schema.json", '"weight-only-quantization",', "")
    assert (
        "data/schema/paper.schema.json:1: the published schema is out of date with data/taxonomy.yaml; run `python -m atlas schema --write`"
        in problems()
    )


def test_taxonomy_problems(dataset):
    edit(
        "data/taxonomy.yaml",
        "topics: [scaling-laws, compute-optimal-training]",
        "topics: [scaling-laws, compute-optimal-trainin]",
    )
    found = problems()
    assert any(
        p.startswith("data/taxonomy.yaml:") and "crosswalk names unknown topic 'compute-optimal-trainin'" in p
        for p in found
    ), found


def test_missing_files(dataset):
    shutil.rmtree("bib")
    assert "bib/papers.bib:1: BibTeX file is missing; it holds one entry per paper" in problems()
    (dataset / "data" / "taxonomy.yaml").unlink()
    result = run_atlas("validate", cwd=dataset)
    assert result.returncode == 1 and "data/taxonomy.yaml:1: taxonomy file is missing" in result.stdout
    assert "Traceback" not in result.stderr


def test_not_utf8(dataset):
    (dataset / GPTQ).write_bytes(b"key: frantar2022gptq\nsummary: caf\xe9\n")
    assert any(p.startswith(f"{GPTQ}:1: not valid UTF-8") for p in problems())


def test_only_reports_named_files(dataset):
    edit(GPTQ, "kind: method", "kind: methodd")
    edit("data/papers/lin2023awq.yaml", "kind: method", "kind: methodd")
    found = problems(only=[dataset / GPTQ])
    assert found and all(p.startswith(GPTQ) for p in found)


@pytest.mark.parametrize("text", ["- just\n- a list\n", ""])
def test_record_must_be_a_mapping(dataset, text):
    (dataset / GPTQ).write_text(text)
    assert f"{GPTQ}:1: a paper file must be a YAML mapping (key: ..., topics: [...], ...)" in problems()


# --- an intake that loses nothing: what plain YAML and BibTeX would silently drop or change --------


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ("kind: method", "kind: method\nkind: system", "kind: system", "`kind` is given twice (also on line"),
        ("    value: 3.25\n", "    value: 3.25\n    value: 3.5\n", "value: 3.5", "`value` is given twice"),
        ("value: 3.25", "value: .nan", "value: .nan", "`.nan` is not a finite number"),
        ("value: 3.25", "value: .inf", "value: .inf", "`.inf` is not a finite number"),
        ("value: 3.25", "value: 012", "value: 012", "`012` would be read as the number 10"),
        ("value: 3.25", "value: 3:25", "value: 3:25", "`3:25` would be read as the number 205"),
        ("value: 3.25", "value: 3_250", "value: 3_250", "would be read as the number 3250"),
        ("baseline: FP16\n", "baseline: no\n", "baseline: no", "`no` would be read as a boolean; quote it"),
        ("kind: method", "kind: &k method\nstages2: *k", "kind: &k", "anchors and aliases"),
    ],
)
def test_yaml_that_would_lose_or_change_a_value_is_refused(dataset, old, new, needle, message):
    edit(GPTQ, old, new)
    found = problems()
    assert found == [f"{GPTQ}:{line_of(GPTQ, needle)}: {found[0].split(': ', 1)[1]}"] if found else False, found
    assert message in found[0], found


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("metric: speedup\n    value: 3.25", "metric: speedup\n    value: 0", "0 is not a possible speedup in x"),
        ("metric: speedup\n    value: 3.25", "metric: speedup\n    value: -2", "-2 is not a possible speedup"),
        ("value: 6.09", "value: 0.5", "0.5 is not a possible perplexity in ppl: a perplexity is at least 1"),
        ("baseline_value: 5.68", "baseline_value: 0.9", "results[2].baseline_value: 0.9 is not a possible perplexity"),
    ],
)
def test_numbers_that_cannot_be_right_for_their_metric_are_refused(dataset, old, new, message):
    edit(GPTQ, old, new)
    found = problems()
    assert len(found) == 1 and message in found[0], found
    assert found[0].startswith(f"{GPTQ}:{line_of(GPTQ, new.split(chr(10))[-1].strip())}:"), found


def test_a_percentage_above_100_is_refused(dataset):
    record = "data/papers/gruslys2016memoryefficient.yaml"
    lines = open(record, encoding="utf-8").read().splitlines()
    at = next(i for i, line in enumerate(lines) if "metric: memory_saving" in line)
    edit(record, lines[at + 1], "    value: 140")
    found = problems()
    assert found == [f"{record}:{at + 2}: {found[0].split(': ', 1)[1]}"], found
    assert "140 is not a possible memory_saving in %: a percentage lies between 0 and 100" in found[0]


def test_bibtex_field_given_twice_is_refused_not_crashed(dataset):
    append_bib(
        "@misc{doe2024twice,\n  title = {First},\n  Title = {Second},\n  author = {Doe, Jane},\n  year = {2024},\n}\n"
    )
    found = problems()
    assert any("sets `title` twice" in p for p in found), found
    append_bib(
        "@misc{roe2024twice,\n  title = {One},\n  title = {Two},\n  author = {Roe, Jane},\n  year = {2024},\n}\n"
    )
    found = problems()
    assert any("'roe2024twice' sets `title` twice" in p for p in found), found

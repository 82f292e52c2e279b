"""`atlas add`, `atlas update` and `atlas format`, tried as a contributor would, failure paths included.

Each test works on a copy of the dataset. Papers used as examples are removed from the copy first,
so these tests keep working once the Atlas itself holds them.
"""

import io
from pathlib import Path

import pytest

from atlas import cli
from atlas.dataset import arxiv, bibtex, contribute, validate, yamlio

from conftest import run_atlas

FIXTURES = Path(__file__).parent / "fixtures"
SUMMARY = "FlashAttention computes exact attention in tiles held in on-chip memory, so the full attention matrix never travels to GPU main memory."


def without(dataset: Path, *keys: str) -> None:
    path = dataset / "bib" / "papers.bib"
    entries, _ = bibtex.parse(path.read_text(), "x")
    path.write_text(bibtex.render_file([e for e in entries if e.key not in keys]))
    for key in keys:
        (dataset / "data" / "papers" / f"{key}.yaml").unlink(missing_ok=True)


@pytest.fixture
def fresh(dataset):
    without(dataset, "dao2022flashattention", "devlin2019bert")
    assert validate.run().problems == []
    return dataset


def snapshot(root: Path) -> dict:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def atlas(capsys, *args, stdin: str | None = None, monkeypatch=None) -> tuple[int, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def entry(key: str) -> bibtex.BibEntry:
    entries, _ = bibtex.parse(Path("bib/papers.bib").read_text(), "x")
    return next(e for e in entries if e.key == key)


# --- add ---------------------------------------------------------------------------------------------


def test_add_from_google_scholar(fresh, capsys):
    code, out = atlas(
        capsys,
        "add",
        "--bibtex",
        str(FIXTURES / "bibtex" / "scholar_flashattention.bib"),
        "--topic",
        "attention-kernels",
        "--summary",
        SUMMARY,
    )
    assert code == 0, out
    assert "Added dao2022flashattention:" in out and "an arXiv preprint: written as @misc" in out
    added = entry("dao2022flashattention")
    assert added.entry_type == "misc" and "journal" not in added.fields
    assert added.fields["eprint"] == "2205.14135" and added.fields["url"] == "https://arxiv.org/abs/2205.14135"
    assert added.fields["author"].endswith(r"R{\'e}, Christopher")
    record = yamlio.read(fresh / "data" / "papers" / "dao2022flashattention.yaml")
    assert (
        record["topics"] == ["attention-kernels"] and record["stages"] == ["inference"] and record["kind"] == "method"
    )
    assert validate.run().problems == []
    assert atlas(capsys, "format", "--check")[0] == 0  # what add writes is already canonical


def test_add_from_arxiv_export_on_stdin(fresh, capsys, monkeypatch):
    text = (FIXTURES / "bibtex" / "arxiv_flashattention.bib").read_text()
    code, out = atlas(
        capsys,
        "add",
        "--bibtex",
        "-",
        "--topic",
        "attention-kernels",
        "--summary",
        SUMMARY,
        stdin=text,
        monkeypatch=monkeypatch,
    )
    assert code == 0, out
    assert "key 'dao2022flashattentionfastmemoryefficientexact' renamed 'dao2022flashattention'" in out
    added = entry("dao2022flashattention")
    assert added.fields["author"].startswith("Tri Dao and Daniel Y. Fu") and added.fields["primaryclass"] == "cs.LG"
    assert validate.run().problems == []


def test_adding_the_same_paper_again_is_refused_with_the_existing_key(fresh, capsys, monkeypatch):
    atlas(
        capsys,
        "add",
        "--bibtex",
        str(FIXTURES / "bibtex" / "scholar_flashattention.bib"),
        "--topic",
        "attention-kernels",
        "--summary",
        SUMMARY,
    )
    before = snapshot(fresh)
    text = (FIXTURES / "bibtex" / "arxiv_flashattention.bib").read_text()
    code, out = atlas(
        capsys, "add", "--bibtex", "-", "--topic", "attention-kernels", stdin=text, monkeypatch=monkeypatch
    )
    assert code == 1
    assert (
        "this paper is already in the Atlas as 'dao2022flashattention'" in out
        and "the same arXiv id (2205.14135)" in out
    )
    assert "python -m atlas update dao2022flashattention" in out
    # the same title without any identifier in common is caught too
    retitled = text.replace("eprint={2205.14135},", "").replace(
        "url={https://arxiv.org/abs/2205.14135},", "url={https://example.org/fa},"
    )
    code, out = atlas(
        capsys, "add", "--bibtex", "-", "--topic", "attention-kernels", stdin=retitled, monkeypatch=monkeypatch
    )
    assert code == 1 and "nearly the same title" in out
    assert snapshot(fresh) == before


def test_add_acl_anthology_entry(fresh, capsys):
    code, out = atlas(
        capsys,
        "add",
        "--bibtex",
        str(FIXTURES / "bibtex" / "acl_bert.bib"),
        "--topic",
        "training-objectives",
        "--summary",
        "BERT pre-trains a bidirectional encoder with masked-token prediction, then fine-tunes it with one extra output layer per task.",
    )
    assert code == 0, out
    added = entry("devlin2019bert")
    assert added.entry_type == "inproceedings"
    assert added.fields["author"] == "Devlin, Jacob and Chang, Ming-Wei and Lee, Kenton and Toutanova, Kristina"
    assert added.fields["doi"] == "10.18653/v1/N19-1423" and added.fields["pages"] == "4171--4186"
    assert "month" not in added.fields and "address" not in added.fields
    assert "dropped fields the Atlas does not keep: address, month" in out
    record = yamlio.read(fresh / "data" / "papers" / "devlin2019bert.yaml")
    assert record["stages"] == ["pretraining"]  # the data chapter's default
    assert validate.run().problems == []


def test_add_from_arxiv_id_offline_recording(fresh, capsys, monkeypatch):
    monkeypatch.setattr(
        arxiv, "fetch", lambda arxiv_id, timeout=20: (FIXTURES / "arxiv" / f"{arxiv_id}.xml").read_text()
    )
    code, out = atlas(
        capsys, "add", "--arxiv", "arXiv:2205.14135v2", "--topic", "attention-kernels", "--summary", SUMMARY
    )
    assert code == 0, out
    added = entry("dao2022flashattention")
    assert added.fields["title"] == "{FlashAttention}: Fast and Memory-Efficient Exact Attention with {IO}-Awareness"
    assert added.fields["author"] == "Tri Dao and Daniel Y. Fu and Stefano Ermon and Atri Rudra and Christopher Ré"
    assert added.fields["year"] == "2022" and added.fields["eprint"] == "2205.14135"
    assert validate.run().problems == []


def test_add_without_summary_says_what_to_write(fresh, capsys):
    code, out = atlas(
        capsys,
        "add",
        "--bibtex",
        str(FIXTURES / "bibtex" / "scholar_flashattention.bib"),
        "--topic",
        "attention-kernels",
    )
    assert code == 0, out
    assert "Write the summary in data/papers/dao2022flashattention.yaml" in out
    assert any("summary: is too short" in str(p) for p in validate.run().problems)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--topic", "attention-kernel"], "unknown topic 'attention-kernel' (did you mean 'attention-kernels'?)"),
        (["--topic", "attention-kernels", "--stage", "decoding"], "stages[0]: unknown stage 'decoding'"),
        (["--topic", "attention-kernels", "--kind", "paper"], "kind: unknown kind 'paper'"),
        (["--topic", "attention-kernels", "--code", "http://github.com/x"], "code: 'http://github.com/x' is not valid"),
        (["--topic", "attention-kernels", "--summary", "Too short."], "summary: is too short"),
    ],
)
def test_add_refuses_bad_annotations(fresh, capsys, args, message):
    before = snapshot(fresh)
    code, out = atlas(capsys, "add", "--bibtex", str(FIXTURES / "bibtex" / "scholar_flashattention.bib"), *args)
    assert code == 1 and message in out and "Refused; nothing was written." in out
    assert snapshot(fresh) == before


@pytest.mark.parametrize(
    "text, message",
    [
        ("@misc{x,\n  title = {Unclosed,\n  year = {2020},\n", "<stdin>:1: BibTeX entry does not parse"),
        ("", "found no BibTeX entry; add one paper at a time"),
        (
            "@misc{a, title={A Paper}, author={Doe, J.}, year={2020}, url={https://x.org/a}}\n@misc{b, title={B Paper}, author={Doe, J.}, year={2020}, url={https://x.org/b}}",
            "found 2 entries; add one paper at a time",
        ),
        ("@misc{a, title={A Paper Without Authors}, year={2020}, url={https://x.org/a}}", "has no `author`"),
        ("@misc{a, title={A Paper With No Link}, author={Doe, J.}, year={2020}}", "needs a way to find the paper"),
        (
            "@misc{a, title={<script>alert(1)</script>}, author={Doe, J.}, year={2020}, url={https://x.org/a}}",
            "`title` contains HTML",
        ),
    ],
)
def test_add_refuses_bad_bibtex(fresh, capsys, monkeypatch, text, message):
    before = snapshot(fresh)
    code, out = atlas(
        capsys,
        "add",
        "--bibtex",
        "-",
        "--topic",
        "attention-kernels",
        "--summary",
        SUMMARY,
        stdin=text,
        monkeypatch=monkeypatch,
    )
    assert code == 1 and message in out, out
    assert snapshot(fresh) == before


def test_add_refuses_when_the_dataset_is_broken(fresh, capsys):
    bib = fresh / "bib" / "papers.bib"
    bib.write_text(bib.read_text() + "\n@misc{broken2024x,\n  title = {Unclosed,\n")
    before = snapshot(fresh)
    code, out = atlas(
        capsys,
        "add",
        "--bibtex",
        str(FIXTURES / "bibtex" / "scholar_flashattention.bib"),
        "--topic",
        "attention-kernels",
    )
    assert code == 1 and "fix them first (python -m atlas validate) so nothing is lost" in out
    assert snapshot(fresh) == before


def test_add_never_replaces_an_existing_record(fresh, capsys):
    orphan = fresh / "data" / "papers" / "dao2022flashattention.yaml"
    orphan.write_text("key: dao2022flashattention\n")
    code, out = atlas(
        capsys,
        "add",
        "--bibtex",
        str(FIXTURES / "bibtex" / "scholar_flashattention.bib"),
        "--topic",
        "attention-kernels",
    )
    assert code == 1 and "already exists without a BibTeX entry" in out
    assert orphan.read_text() == "key: dao2022flashattention\n"


def test_add_gives_a_new_key_when_another_paper_holds_it(fresh, capsys, monkeypatch):
    text = "@misc{x, title={GPTQ Revisited: Another Look}, author={Frantar, Elias}, year={2022}, url={https://example.org/x}}"
    code, out = atlas(
        capsys,
        "add",
        "--bibtex",
        "-",
        "--topic",
        "weight-only-quantization",
        "--summary",
        SUMMARY,
        stdin=text,
        monkeypatch=monkeypatch,
    )
    assert code == 0, out
    assert "key 'frantar2022gptq' belongs to another paper, so this one is 'frantar2022gptqrevisited'" in out
    assert entry("frantar2022gptq").fields["eprint"] == "2210.17323"  # the existing paper is untouched


def test_add_arxiv_failures(fresh, capsys, monkeypatch):
    def offline(arxiv_id, timeout=20):
        raise arxiv.ArxivError("could not reach arXiv (no network); you are probably offline")

    monkeypatch.setattr(arxiv, "fetch", offline)
    code, out = atlas(capsys, "add", "--arxiv", "2205.14135", "--topic", "attention-kernels")
    assert code == 1 and "could not reach arXiv" in out
    monkeypatch.setattr(arxiv, "fetch", lambda arxiv_id, timeout=20: (FIXTURES / "arxiv" / "missing.xml").read_text())
    code, out = atlas(capsys, "add", "--arxiv", "2299.99999", "--topic", "attention-kernels")
    assert code == 1 and "arXiv has no paper 2299.99999" in out
    code, out = atlas(capsys, "add", "--arxiv", "not-an-id", "--topic", "attention-kernels")
    assert code == 1 and "'not-an-id' is not an arXiv id" in out


def test_add_missing_file(fresh, capsys):
    code, out = atlas(capsys, "add", "--bibtex", "nope.bib", "--topic", "attention-kernels")
    assert code == 1 and "nope.bib:1: no such file" in out


def test_add_as_a_user_runs_it(fresh):
    result = run_atlas(
        "add",
        "--bibtex",
        str(FIXTURES / "bibtex" / "scholar_flashattention.bib"),
        "--topic",
        "attention-kernels",
        "--summary",
        SUMMARY,
        cwd=fresh,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert run_atlas("validate", cwd=fresh).returncode == 0


# --- update ------------------------------------------------------------------------------------------


def test_update_venue_code_and_doi(dataset, capsys):
    others_before = {
        e.key: e.fields
        for e in bibtex.parse(Path("bib/papers.bib").read_text(), "x")[0]
        if e.key != "dettmers2023qlora"
    }
    code, out = atlas(
        capsys,
        "update",
        "dettmers2023qlora",
        "--venue",
        "Advances in Neural Information Processing Systems (NeurIPS 2023)",
    )
    assert code == 0, out
    assert "@misc -> @inproceedings" in out and "booktitle: '(none)' -> 'Advances in Neural" in out
    updated = entry("dettmers2023qlora")
    assert (
        updated.entry_type == "inproceedings" and updated.fields["eprint"] == "2305.14314"
    )  # preprint and venue: one record
    record = dataset / "data" / "papers" / "micikevicius2022fp8.yaml"
    assert "code" not in yamlio.read(record)
    code, out = atlas(capsys, "update", "micikevicius2022fp8", "--code", "https://github.com/example/fp8")
    assert code == 0 and "code: (none) -> https://github.com/example/fp8" in out
    assert yamlio.read(record)["code"] == "https://github.com/example/fp8"
    others_after = {
        e.key: e.fields
        for e in bibtex.parse(Path("bib/papers.bib").read_text(), "x")[0]
        if e.key != "dettmers2023qlora"
    }
    assert others_after == others_before
    code, out = atlas(
        capsys, "update", "rostam2024achieving", "--journal", "IEEE Access", "--doi", "https://doi.org/10.1000/example"
    )
    assert code == 0 and entry("rostam2024achieving").fields["doi"] == "10.1000/example"
    assert validate.run().problems == []


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["frantar2022gptqq", "--venue", "X"],
            "no paper 'frantar2022gptqq' in the Atlas (did you mean 'frantar2022gptq'?)",
        ),
        (["frantar2022gptq"], "nothing to update"),
        (["frantar2022gptq", "--venue", "X", "--journal", "Y"], "not both"),
        (["frantar2022gptq", "--doi", "not a doi"], "should look like 10.1234/abcd"),
        (["frantar2022gptq", "--code", "ftp://x"], "code: 'ftp://x' is not valid"),
    ],
)
def test_update_refusals(dataset, capsys, args, message):
    before = snapshot(dataset)
    code, out = atlas(capsys, "update", *args)
    assert code == 1 and message in out, out
    assert snapshot(dataset) == before


def test_update_refuses_a_doi_of_another_paper(dataset, capsys):
    atlas(capsys, "update", "rostam2024achieving", "--doi", "10.1000/shared")
    code, out = atlas(capsys, "update", "frantar2022gptq", "--doi", "10.1000/shared")
    assert code == 1 and "DOI 10.1000/shared already belongs to 'rostam2024achieving'" in out


# --- format ------------------------------------------------------------------------------------------


def test_the_dataset_is_canonical(dataset, capsys):
    code, out = atlas(capsys, "format", "--check")
    assert code == 0, out


def test_format_loses_no_field_on_the_whole_dataset(dataset, capsys):
    def content():
        entries, problems = bibtex.parse(Path("bib/papers.bib").read_text(), "x")
        assert not problems
        records = {p.name: yamlio.read(p) for p in Path("data/papers").glob("*.yaml")}
        return sorted((e.key, e.entry_type, sorted(e.fields.items())) for e in entries), records

    before = content()
    # scramble the layout: entries reversed, fields reversed, YAML keys reversed and re-wrapped
    entries, _ = bibtex.parse(Path("bib/papers.bib").read_text(), "x")
    scrambled = "\n".join(
        "@{}{{{},\n{}}}\n".format(
            e.entry_type.upper(), e.key, "".join(f"    {k} = {{{v}}},\n" for k, v in reversed(list(e.fields.items())))
        )
        for e in reversed(entries)
    )
    Path("bib/papers.bib").write_text(scrambled)
    import yaml

    for path in Path("data/papers").glob("*.yaml"):
        data = yamlio.read(path)
        path.write_text(
            yaml.safe_dump(dict(reversed(list(data.items()))), sort_keys=False, width=60, allow_unicode=True)
        )
    code, out = atlas(capsys, "format", "--check")
    assert code == 1 and "bib/papers.bib:1: not in canonical format" in out
    assert atlas(capsys, "format")[0] == 0
    assert content() == before
    assert atlas(capsys, "format", "--check")[0] == 0


def test_format_leaves_a_broken_file_alone(dataset, capsys):
    bib = dataset / "bib" / "papers.bib"
    bib.write_text(bib.read_text() + "\n@misc{broken2024x,\n  title = {Unclosed,\n")
    record = dataset / "data" / "papers" / "lin2023awq.yaml"
    record.write_text(record.read_text().replace("kind: method", "kind: [method"))
    before = snapshot(dataset)
    code, out = atlas(capsys, "format")
    assert code == 1 and "does not parse" in out and "lin2023awq.yaml" in out and "not formatted" in out
    assert snapshot(dataset) == before


def test_format_refuses_a_rendering_that_would_lose_an_entry(dataset, capsys, monkeypatch):
    bib = dataset / "bib" / "papers.bib"
    bib.write_text(bib.read_text().replace("@inproceedings{frantar2022gptq,", "@INPROCEEDINGS{frantar2022gptq,"))
    before = snapshot(dataset)
    real = bibtex.render_file
    monkeypatch.setattr(bibtex, "render_file", lambda entries: real([e for e in entries if e.key != "frantar2022gptq"]))
    code, out = atlas(capsys, "format")
    assert code == 1 and "formatting would change the entries' content; nothing was written" in out
    assert snapshot(dataset) == before


def test_add_refuses_a_write_that_would_disturb_other_entries(fresh, capsys, monkeypatch):
    before = snapshot(fresh)
    real = bibtex.render_entry
    monkeypatch.setattr(bibtex, "render_entry", lambda e: real(e).replace("Flashattention", "Something else"))
    code, out = atlas(
        capsys,
        "add",
        "--bibtex",
        str(FIXTURES / "bibtex" / "scholar_flashattention.bib"),
        "--topic",
        "attention-kernels",
        "--summary",
        SUMMARY,
    )
    assert code == 1 and "could not be written without disturbing other entries; nothing was written" in out
    assert snapshot(fresh) == before  # the YAML written first was removed again


@pytest.mark.parametrize(
    "author, title, key",
    [
        ("Łajewska, Weronika", "Understanding Long Contexts", "lajewska2025understanding"),
        ("Søgaard, Anders and Ørsted, H.", "Dense Models", "sogaard2025dense"),
        ("Zhang, Tianyi", "70% Size, 100% Accuracy: Lossless Compression", "zhang2025size"),
        ("{Kimi Team}", "Kimi Linear: An Expressive Attention", "kimiteam2025kimi"),
        ("Dao, Tri", "{FlashAttention}: Fast and Memory-Efficient Exact Attention", "dao2025flashattention"),
    ],
)
def test_canonical_key_keeps_every_letter_and_skips_numbers(author, title, key):
    assert contribute.canonical_key({"author": author, "title": title, "year": "2025"}) == key

"""Every check of the dataset, in one pass, returning the parsed dataset and its problems.

`python -m atlas validate` prints the problems; `atlas.data.load` builds DataFrames from the
parsed dataset and refuses to when there are problems. One pass serves both, so what the book
shows is exactly what was checked.
"""

import datetime as dt
import difflib
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import fastjsonschema
import jsonschema

from atlas import paths
from atlas.dataset import bibtex, duplicates, schema, yamlio
from atlas.dataset import taxonomy as taxonomy_mod
from atlas.dataset.problems import Problem


@dataclass
class Record:
    key: str
    path: Path
    file: str  # as shown in messages
    data: dict
    text: str  # kept for locating lines in messages

    def line(self, where: list) -> int:
        return yamlio.line_of(self.text, where)


@dataclass
class Validation:
    root: Path
    taxonomy: taxonomy_mod.Taxonomy | None
    entries: dict[str, bibtex.BibEntry] = field(default_factory=dict)
    records: dict[str, Record] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)  # record files that exist but could not be read

    @property
    def ok(self) -> bool:
        return not self.problems


def run(root: Path | None = None, only: list[Path] | None = None, check_pybtex: bool = True) -> Validation:
    """Validate the dataset under `root`. `only` restricts the reported problems to those files
    (the whole dataset is still read: duplicates and cross-references need it)."""
    root = Path(root or paths.root())
    bib_path = paths.bib_file(root)
    bib_file = paths.relative(bib_path)
    bib_text = bib_path.read_text(encoding="utf-8", errors="replace") if bib_path.exists() else ""

    # pybtex is the slowest check; it runs in a second process while this one does the rest
    pool = future = None
    if check_pybtex and bib_text:
        pool = ProcessPoolExecutor(max_workers=1)
        future = pool.submit(_pybtex_check, bib_text, bib_file)

    taxonomy, problems = taxonomy_mod.read(paths.taxonomy_file(root))
    v = Validation(root, taxonomy, problems=list(problems))
    entries, bib_problems = bibtex.read(bib_path, bib_file)
    v.problems += bib_problems
    for entry in entries:
        v.problems += bibtex.entry_problems(entry, bib_file)
        v.entries.setdefault(entry.key, entry)
    if taxonomy is not None:
        _check_schema_file(v, root)
        _read_records(v, root, taxonomy)
        _check_links(v, bib_file)
        _check_duplicates(v, bib_file)
        _check_crosswalk_surveys(v, root)
    if future is not None:
        v.problems += future.result()
        pool.shutdown()
    if only:
        wanted = {paths.relative(Path(p)) for p in only}
        v.problems = [p for p in v.problems if p.file in wanted]
    v.problems = sorted(set(v.problems))
    return v


def _pybtex_check(text: str, file: str) -> list[Problem]:
    entries, failed = bibtex.parse(text, file)
    if failed:  # already reported by the main pass; pybtex's view of a broken file adds only noise
        return []
    return bibtex.pybtex_problems(text, entries, file)


# --- records ----------------------------------------------------------------------------------------

_validators: dict[str, tuple] = {}


def validators_for(taxonomy):
    """A compiled validator for the common case (a valid record: fast) and jsonschema's, which
    explains every error of an invalid one."""
    built = schema.build(taxonomy)
    cache_key = json.dumps(built, sort_keys=True)
    if cache_key not in _validators:
        _validators[cache_key] = (fastjsonschema.compile(built), jsonschema.Draft7Validator(built))
    return _validators[cache_key]


def schema_errors(data, fast, detailed) -> list:
    try:
        fast(data)
        return []
    except fastjsonschema.JsonSchemaException:
        return sorted(detailed.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))


def _check_schema_file(v: Validation, root: Path) -> None:
    path = paths.schema_file(root)
    expected = schema.render(v.taxonomy)
    if not path.exists() or path.read_text(encoding="utf-8") != expected:
        v.problems.append(
            Problem(
                paths.relative(path),
                1,
                "the published schema is out of date with data/taxonomy.yaml; run `python -m atlas schema --write`",
            )
        )


def _read_records(v: Validation, root: Path, taxonomy) -> None:
    folder = paths.papers_dir(root)
    shown_folder = paths.relative(folder)  # resolved once: per-file resolution dominates large datasets
    fast, detailed = validators_for(taxonomy)
    today = dt.date.today()
    for path in sorted(folder.glob("*")):
        file = f"{shown_folder}/{path.name}"
        if path.suffix == ".yml":
            v.problems.append(Problem(file, 1, "paper files end in .yaml; rename it"))
            continue
        if path.suffix != ".yaml":
            continue
        data, text, problem = yamlio.read_mapping(path, file)
        if problem:
            v.problems.append(problem)
            v.unreadable.add(path.stem)  # reported once, here: its entry is not "missing" a file
            continue
        if isinstance(data.get("added"), dt.date):  # YAML reads 2026-11-22 as a date; the schema wants text
            if data["added"] > today:
                v.problems.append(
                    Problem(
                        file,
                        yamlio.line_of(text, ["added"]),
                        f"`added` is in the future ({data['added']}); use the date the paper entered the Atlas",
                    )
                )
            data["added"] = data["added"].isoformat()
        record = Record(str(data.get("key", path.stem)), path, file, data, text)
        for error in schema_errors(data, fast, detailed):
            v.problems.append(Problem(file, record.line(list(error.absolute_path)), explain(error, taxonomy)))
        if data.get("key") != path.stem:
            v.problems.append(
                Problem(
                    file,
                    record.line(["key"]),
                    f"`key` is {data.get('key')!r} but the file is named {path.name}; they must match (the key is the BibTeX key)",
                )
            )
        for where, value in _strings(data):
            if bibtex.HTML_PATTERN.search(value):
                v.problems.append(Problem(file, record.line(where), "contains HTML or a script URL; write plain text"))
        for where, message in result_range_problems(data, taxonomy):
            v.problems.append(Problem(file, record.line(where), message))
        if record.key in v.records:
            continue
        v.records[record.key] = record


# What a number can be, by its metric's unit (and for a few metrics their own bounds): a value outside
# is a typo or a converted figure (a ratio written as a percentage, a saving written as a ratio).
_RANGES_BY_UNIT = {
    "x": (0.0, None, "a ratio (baseline / method) is above 0"),
    "%": (0.0, 100.0, "a percentage lies between 0 and 100"),
    "ppl": (1.0, None, "a perplexity is at least 1"),
    "bits": (0.0, 64.0, "bits per weight lie between 0 and 64"),
    "tokens/s": (0.0, None, "a throughput is above 0"),
}
_STRICTLY_ABOVE = {"x", "bits", "tokens/s"}


def result_range_problems(data: dict, taxonomy) -> list[tuple[list, str]]:
    """Numbers that cannot be right for their metric, with where they are and the fix."""
    found = []
    for i, result in enumerate(data.get("results") or []):
        if not isinstance(result, dict) or result.get("metric") not in taxonomy.metrics:
            continue  # the schema reports these
        metric = taxonomy.metrics[result["metric"]]
        if metric.unit not in _RANGES_BY_UNIT:
            continue
        low, high, rule = _RANGES_BY_UNIT[metric.unit]
        for field_name in ("value", "baseline_value"):
            value = result.get(field_name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue  # the schema reports these
            below = value <= low if metric.unit in _STRICTLY_ABOVE else value < low
            if below or (high is not None and value > high):
                hint = (
                    " (for a ratio, record the percentage under a `_saving` metric instead)"
                    if metric.unit == "%"
                    else ""
                )
                found.append(
                    (["results", i, field_name], f"results[{i}].{field_name}: {value:g} is not a possible {metric.id} "
                     f"in {metric.unit}: {rule}; record the number as the paper states it{hint}")
                )  # fmt: skip
    return found


def _strings(value, where=()):
    if isinstance(value, str):
        yield list(where), value
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from _strings(item, (*where, k))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*where, i))


def _dotted(path) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "the record"


def suggest(word, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def explain(error: jsonschema.ValidationError, taxonomy) -> str:
    """A jsonschema error as a sentence a contributor can act on."""
    where = _dotted(error.absolute_path)
    parent = (
        error.absolute_path[-2]
        if len(error.absolute_path) >= 2
        else (error.absolute_path[0] if error.absolute_path else None)
    )
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return f"{where}: missing `{missing}`" + (
            " (see CONTRIBUTING.md for the fields)" if where == "the record" else ""
        )
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema["properties"]))
        return f"{where}: unknown field(s) {', '.join(f'`{e}`' for e in extra)}{suggest(extra[0], error.schema['properties'])}; allowed: {', '.join(error.schema['properties'])}"
    if error.validator == "enum":
        vocab = {"topics": "topic", "stages": "stage", "kind": "kind", "metric": "metric"}
        name = vocab.get(str(parent), vocab.get(str(error.absolute_path[-1]) if error.absolute_path else "", "value"))
        return f"{where}: unknown {name} {error.instance!r}{suggest(error.instance, error.validator_value)}; the {name}s are listed in data/taxonomy.yaml"
    if error.validator == "type":
        return f"{where}: must be {'a ' + error.validator_value if isinstance(error.validator_value, str) else error.validator_value}, not {type(error.instance).__name__} {error.instance!r}"
    if error.validator == "pattern":
        hints = {
            schema.WHERE_PATTERN: "name the place in the paper: Abstract, Table 2, Figure 3, Section 4.1, Appendix B",
            schema.PRECISION_PATTERN: "write it as W<bits>A<bits>, e.g. W4A16, W8A8 or W4A8KV4",
            schema.DATE_PATTERN: "write the date as YYYY-MM-DD",
        }
        return f"{where}: {error.instance!r} is not valid; {hints.get(error.validator_value, 'it must match ' + error.validator_value)}"
    if error.validator == "uniqueItems":
        return f"{where}: lists an item twice"
    if error.validator in ("minLength", "maxLength"):
        return f"{where}: is too {'short' if error.validator == 'minLength' else 'long'} ({len(error.instance)} characters; {error.validator} {error.validator_value})"
    if error.validator == "minItems":
        return f"{where}: must list at least {error.validator_value}"
    return f"{where}: {error.message}"


# --- across files -----------------------------------------------------------------------------------


def _check_links(v: Validation, bib_file: str) -> None:
    """One YAML per BibTeX entry and one BibTeX entry per YAML."""
    folder = paths.relative(paths.papers_dir(v.root))
    for key, entry in v.entries.items():
        if key not in v.records and key not in v.unreadable:
            v.problems.append(
                Problem(
                    bib_file,
                    entry.line,
                    f"entry {key!r} has no annotation file; add {folder}/{key}.yaml (python -m atlas add writes both)",
                )
            )
    for key, record in v.records.items():
        if key not in v.entries:
            v.problems.append(
                Problem(
                    record.file,
                    record.line(["key"]),
                    f"no BibTeX entry {key!r} in {bib_file}; add it there or rename this file to an existing key",
                )
            )


def _check_duplicates(v: Validation, bib_file: str) -> None:
    """The same paper entered twice: same arXiv id, DOI or (nearly) the same title."""
    for entry, other, reason in duplicates.find_all(list(v.entries.values())):
        field_name = {"the same arXiv id": "eprint", "the same DOI": "doi"}.get(reason.split(" (")[0], "title")
        v.problems.append(
            Problem(
                bib_file,
                entry.line_of(field_name),
                f"entry {entry.key!r} has {reason} as {other.key!r}: "
                "one paper, one record; merge them (a preprint and its published version are one record)",
            )
        )


def _check_crosswalk_surveys(v: Validation, root: Path) -> None:
    """The crosswalk names its surveys by key: they must be in the dataset."""
    file = paths.relative(paths.taxonomy_file(root))
    text = paths.taxonomy_file(root).read_text(encoding="utf-8")
    for i, survey in enumerate(v.taxonomy.crosswalk):
        key = survey.get("survey")
        if key not in v.entries:
            v.problems.append(
                Problem(
                    file,
                    yamlio.line_of(text, ["crosswalk", i, "survey"]),
                    f"the crosswalk names survey {key!r}, which is not in the dataset; add the paper or fix the key",
                )
            )

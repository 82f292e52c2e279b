"""Adding and updating papers: `python -m atlas add` and `python -m atlas update`.

Both refuse rather than guess, and write nothing until every check has passed. They never
overwrite or drop an existing entry: BibTeX is inserted (or one entry replaced) in place, the file
is re-read and compared with what it held before, and only then replaced in one step.
"""

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from atlas import paths
from atlas.dataset import arxiv, bibtex, duplicates, ownwords, records, validate, yamlio
from atlas.dataset import taxonomy as taxonomy_mod
from atlas.dataset.formatting import write_atomically
from atlas.dataset.problems import Problem

KEEP_FIELDS = set(bibtex.FIELD_ORDER)
STOPWORDS = {
    "a",
    "an",
    "the",
    "on",
    "of",
    "for",
    "towards",
    "toward",
    "in",
    "to",
    "and",
    "with",
    "is",
    "are",
    "via",
    "from",
    "by",
    "at",
    "do",
    "does",
    "can",
    "what",
    "how",
    "why",
    "when",
}
# Google Scholar writes arXiv preprints as journal = {arXiv preprint arXiv:2210.17323}
SCHOLAR_ARXIV = re.compile(r"arxiv(?:\s+preprint)?(?:\s+arxiv)?\s*:?\s*(\d{4}\.\d{4,5})", re.IGNORECASE)
NEW_STYLE_ARXIV = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}$")


class Refused(Exception):
    """Nothing was written; `problems` say why and what to do."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.lines.append(text)


# --- normalising an incoming entry ---------------------------------------------------------------------


# letters that Unicode does not decompose into a base letter plus an accent, so NFKD alone would drop
# them (Łajewska would become "ajewska")
_UNDECOMPOSED = str.maketrans(
    {
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "ß": "ss",
        "æ": "ae",
        "Æ": "Ae",
        "œ": "oe",
        "Œ": "Oe",
        "ı": "i",
    }
)


def _ascii_letters(text: str) -> str:
    text = bibtex.to_text(text).translate(_UNDECOMPOSED)
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", plain)


def canonical_key(fields: dict) -> str:
    """lastname + year + first significant title word: dao2022flashattention."""
    authors = bibtex.split_authors(fields.get("author", ""))
    first = authors[0] if authors else "anonymous"
    last = first.split(",")[0] if "," in first else (first[1:-1] if first.startswith("{") else first.split()[-1])
    words = [_ascii_letters(w) for w in bibtex.to_text(fields.get("title", "")).split()]
    # a word needs a letter: "70% Size, 100% Accuracy" gives "size", not a key that reads as a year
    word = next((w for w in words if re.search("[a-z]", w) and w not in STOPWORDS), "paper")
    return f"{re.sub('[^a-z]', '', _ascii_letters(last)) or 'anonymous'}{fields.get('year', '')}{word}"


def normalise(entry: bibtex.BibEntry) -> tuple[bibtex.BibEntry, list[str]]:
    """The entry in the Atlas's conventions, with a note for every change a contributor should know of."""
    notes = []
    fields = {k: " ".join(v.split()) for k, v in entry.fields.items()}
    entry_type = entry.entry_type
    venue = fields.get("journal", "") or fields.get("booktitle", "")
    scholar = SCHOLAR_ARXIV.search(venue) or SCHOLAR_ARXIV.search(fields.get("note", ""))
    if scholar or venue.lower() in ("corr", "arxiv", "arxiv preprint", "arxiv e-prints"):
        if scholar:
            fields.setdefault("eprint", scholar.group(1))
        fields.pop("journal", None), fields.pop("booktitle", None), fields.pop("volume", None)
        entry_type = "misc"
        notes.append("an arXiv preprint: written as @misc with its eprint, not as a journal article")
    if "eprint" in fields:
        try:
            fields["eprint"] = arxiv.clean_id(fields["eprint"])
        except arxiv.ArxivError:  # left as given: the validator reports a malformed id with its line
            pass
        fields["archiveprefix"] = "arXiv"
    if "doi" in fields:
        fields["doi"] = clean_doi(fields["doi"])
    year_from_id = NEW_STYLE_ARXIV.match(fields.get("eprint", ""))
    if year_from_id:
        first_year = str(2000 + int(year_from_id.group(1)))
        if fields.get("year") != first_year:
            notes.append(
                f"year set to {first_year} from the arXiv id, the first public version"
                + (f" (the entry said {fields['year']})" if fields.get("year") else "")
            )
            fields["year"] = first_year
    if not fields.get("url"):
        if fields.get("eprint"):
            fields["url"] = f"https://arxiv.org/abs/{fields['eprint']}"
        elif fields.get("doi"):
            fields["url"] = f"https://doi.org/{fields['doi']}"
    dropped = sorted(set(fields) - KEEP_FIELDS)
    for name in dropped:
        fields.pop(name)
    if dropped:
        notes.append(f"dropped fields the Atlas does not keep: {', '.join(dropped)}")
    if fields.get("booktitle"):
        entry_type = "inproceedings"
    elif fields.get("journal"):
        entry_type = "article"
    elif entry_type not in ("misc", "techreport", "phdthesis", "book"):
        entry_type = "misc"
    key = canonical_key(fields)
    if key != entry.key:
        notes.append(f"key {entry.key!r} renamed {key!r} (lastname + year + first title word)")
    return bibtex.BibEntry(key, entry_type, fields, 1, {}, ""), notes


# --- the dataset as it is on disk -------------------------------------------------------------------


@dataclass
class OnDisk:
    root: Path
    taxonomy: taxonomy_mod.Taxonomy
    bib_path: Path
    bib_text: str
    entries: list[bibtex.BibEntry]


def _load(root: Path | None) -> OnDisk:
    root = Path(root or paths.root())
    taxonomy, problems = taxonomy_mod.read(paths.taxonomy_file(root))
    bib_path = paths.bib_file(root)
    bib_file = paths.relative(bib_path)
    text = bib_path.read_text(encoding="utf-8") if bib_path.exists() else ""
    entries, bib_problems = bibtex.parse(text, bib_file)
    problems += bib_problems
    if taxonomy is None or problems:
        raise Refused(
            problems
            + [
                Problem(
                    bib_file,
                    1,
                    "the dataset has problems; fix them first (python -m atlas validate) so nothing is lost",
                )
            ]
        )
    return OnDisk(root, taxonomy, bib_path, text, entries)


def _write_bib(disk: OnDisk, new_text: str, expect: dict[str, bibtex.BibEntry]) -> None:
    """Write the bibliography only if, read back, it holds exactly `expect` (every old entry kept)."""
    file = paths.relative(disk.bib_path)
    again, problems = bibtex.parse(new_text, file)
    got = {e.key: (e.entry_type, e.fields) for e in again}
    want = {k: (e.entry_type, e.fields) for k, e in expect.items()}
    if problems or got != want:
        raise Refused(
            [
                Problem(
                    file,
                    1,
                    "the change could not be written without disturbing other entries; nothing was written (please report this)",
                )
            ]
        )
    disk.bib_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(disk.bib_path, new_text)


def clean_doi(doi: str) -> str:
    """'https://doi.org/10.1/x' or 'doi:10.1/x' -> '10.1/x'."""
    return re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", doi.strip(), flags=re.IGNORECASE)


def _record_problems(record: dict, disk: OnDisk, file: str) -> list[Problem]:
    fast, detailed = validate.validators_for(disk.taxonomy)
    text = records.render(record)
    return [
        Problem(file, yamlio.line_of(text, list(e.absolute_path)), validate.explain(e, disk.taxonomy))
        for e in validate.schema_errors({**record, "added": str(record["added"])}, fast, detailed)
    ]


# --- add ---------------------------------------------------------------------------------------------


def add(
    bibtex_text: str,
    source: str,
    topics: list[str],
    summary: str | None = None,
    stages: list[str] | None = None,
    kind: str | None = None,
    code: str | None = None,
    root: Path | None = None,
    today: dt.date | None = None,
) -> Report:
    disk = _load(root)
    bib_file = paths.relative(disk.bib_path)
    incoming, problems = bibtex.parse(bibtex_text, source)
    if problems:
        raise Refused(problems)
    if len(incoming) != 1:
        found = "no BibTeX entry" if not incoming else f"{len(incoming)} entries"
        raise Refused([Problem(source, 1, f"found {found}; add one paper at a time (one @type{{key, ...}} entry)")])
    entry, notes = normalise(incoming[0])
    problems = [Problem(source, incoming[0].line, p.message) for p in bibtex.entry_problems(entry, source)]
    abstract = incoming[0].fields.get("abstract")
    if summary and abstract:  # the one moment the abstract is at hand: check the summary is not a copy of it
        copied = ownwords.problem(summary, bibtex.to_text(abstract))
        if copied:
            problems.append(Problem(source, incoming[0].line_of("abstract"), f"--summary: {copied}"))
    unknown = [t for t in topics if t not in disk.taxonomy.topics]
    for topic in unknown:
        problems.append(
            Problem(
                source,
                1,
                f"unknown topic {topic!r}{validate.suggest(topic, disk.taxonomy.topics)}; the topics are listed in data/taxonomy.yaml",
            )
        )
    if not topics:
        problems.append(Problem(source, 1, "name at least one --topic (the first is the paper's primary topic)"))
    if problems:
        raise Refused(problems)

    same = duplicates.match(entry, disk.entries)
    if same:
        other, reason = same
        raise Refused(
            [
                Problem(
                    source,
                    incoming[0].line,
                    f"this paper is already in the Atlas as {other.key!r} ({bib_file}:{other.line}): "
                    f"{reason}. To record a venue or code for it, use `python -m atlas update {other.key}`",
                )
            ]
        )
    taken = {e.key for e in disk.entries}
    if entry.key in taken:  # another paper already has this key: extend it with the next title word, or a letter
        words = [
            w
            for w in (_ascii_letters(w) for w in bibtex.to_text(entry.fields["title"]).split())
            if w and w not in STOPWORDS
        ]
        candidates = [entry.key + "".join(words[1:n]) for n in range(2, len(words) + 1)] + [
            entry.key + c for c in "bcdefgh"
        ]
        key = next(k for k in candidates if k not in taken)
        notes.append(f"key {entry.key!r} belongs to another paper, so this one is {key!r}")
        entry = bibtex.BibEntry(key, entry.entry_type, entry.fields, 1, {}, "")
    record_path = paths.papers_dir(disk.root) / f"{entry.key}.yaml"
    record_file = paths.relative(record_path)
    if record_path.exists():
        raise Refused(
            [
                Problem(
                    record_file,
                    1,
                    f"{record_file} already exists without a BibTeX entry; remove it or pick another key",
                )
            ]
        )

    chapter = disk.taxonomy.topics[topics[0]].chapter
    record = {
        "key": entry.key,
        "topics": list(topics),
        "stages": list(stages or disk.taxonomy.chapter(chapter).stages or ["inference"]),
        "kind": kind or "method",
        "summary": " ".join((summary or "").split()),
        **({"code": code} if code else {}),
        "added": today or dt.date.today(),
    }
    problems = [
        p for p in _record_problems(record, disk, record_file) if not (summary is None and "summary" in p.message)
    ]
    if problems:
        raise Refused(problems)

    # insert the entry before the first existing key that sorts after it: the diff shows one new entry
    rendered = bibtex.render_entry(entry)
    following = next((e for e in sorted(disk.entries, key=lambda e: e.key) if e.key > entry.key), None)
    if following is None:
        new_text = disk.bib_text.rstrip("\n") + ("\n\n" if disk.bib_text.strip() else "") + rendered
    else:
        lines = disk.bib_text.splitlines(keepends=True)
        at = following.line - 1
        new_text = "".join(lines[:at]) + rendered + "\n" + "".join(lines[at:])
    expect = {e.key: e for e in disk.entries} | {entry.key: entry}
    record_path.parent.mkdir(parents=True, exist_ok=True)
    with open(record_path, "x", encoding="utf-8") as f:  # "x": never replace a file that appeared meanwhile
        f.write(records.render(record))
    try:
        _write_bib(disk, new_text, expect)
    except Exception:
        record_path.unlink()
        raise

    line = next(e.line for e in bibtex.parse(new_text, bib_file)[0] if e.key == entry.key)
    report = Report()
    report.say(f"Added {entry.key}:")
    report.say(f"  {bib_file}:{line}  the BibTeX entry")
    report.say(f"  {record_file}  the survey's annotations")
    for note in notes:
        report.say(f"  note: {note}")
    report.say("Next steps (then open a pull request):")
    step = 1
    if not summary:
        report.say(
            f"  {step}. Write the summary in {record_file}: 1-3 sentences in your own words on what the technique does and what it saves."
        )
        step += 1
    report.say(
        f"  {step}. Check topics {record['topics']} (first = primary), stages {record['stages']} and kind {record['kind']!r}."
    )
    report.say(
        f"  {step + 1}. Add the paper's headline numbers under `results:` (metric, value, baseline, setting, and `where`: Abstract, Table 2, ...)."
    )
    if not code:
        report.say(
            f"  {step + 2}. If there is an official code repository, add it as `code:` (or: python -m atlas update {entry.key} --code URL)."
        )
    report.say("  Then run: python -m atlas validate")
    return report


# --- update ------------------------------------------------------------------------------------------


def update(
    key: str,
    venue: str | None = None,
    journal: str | None = None,
    doi: str | None = None,
    code: str | None = None,
    root: Path | None = None,
) -> Report:
    disk = _load(root)
    bib_file = paths.relative(disk.bib_path)
    by_key = {e.key: e for e in disk.entries}
    if key not in by_key:
        raise Refused([Problem(bib_file, 1, f"no paper {key!r} in the Atlas{validate.suggest(key, by_key)}")])
    if not any((venue, journal, doi, code)):
        raise Refused(
            [Problem(bib_file, by_key[key].line, "nothing to update: give --venue, --journal, --doi or --code")]
        )
    if venue and journal:
        raise Refused([Problem(bib_file, by_key[key].line, "give --venue (a conference) or --journal, not both")])
    old = by_key[key]
    fields = dict(old.fields)
    entry_type = old.entry_type
    report = Report()
    if venue:
        fields.pop("journal", None)
        fields["booktitle"], entry_type = " ".join(venue.split()), "inproceedings"
    if journal:
        fields.pop("booktitle", None)
        fields["journal"], entry_type = " ".join(journal.split()), "article"
    if doi:
        fields["doi"] = clean_doi(doi)
    new = bibtex.BibEntry(key, entry_type, fields, old.line, old.field_lines, old.raw, old.bare)
    problems = bibtex.entry_problems(new, bib_file)
    if doi:
        same = duplicates.match(new, [e for e in disk.entries if e.key != key])
        if same and "DOI" in same[1]:
            problems.append(Problem(bib_file, old.line, f"DOI {fields['doi']} already belongs to {same[0].key!r}"))

    record_path = paths.papers_dir(disk.root) / f"{key}.yaml"
    record_file = paths.relative(record_path)
    record = None
    if code:
        if not record_path.exists():
            problems.append(Problem(record_file, 1, f"{record_file} is missing; add the annotations first"))
        else:
            record = yamlio.read(record_path)
            record["code"] = code.strip()
            problems += [p for p in _record_problems(record, disk, record_file) if "code" in p.message]
    if problems:
        raise Refused(problems)

    if (entry_type, fields) != (old.entry_type, old.fields):
        if disk.bib_text.count(old.raw) != 1:
            raise Refused(
                [
                    Problem(
                        bib_file,
                        old.line,
                        "the entry's text could not be located exactly once; run `python -m atlas format` and retry",
                    )
                ]
            )
        new_text = disk.bib_text.replace(old.raw, bibtex.render_entry(new).rstrip("\n"), 1)
        _write_bib(disk, new_text, {e.key: e for e in disk.entries} | {key: new})
        for name in sorted(set(fields) | set(old.fields)):
            if fields.get(name) != old.fields.get(name):
                report.say(
                    f"  {bib_file}: {key}.{name}: {old.fields.get(name, '(none)')!r} -> {fields.get(name, '(removed)')!r}"
                )
        if entry_type != old.entry_type:
            report.say(f"  {bib_file}: {key}: @{old.entry_type} -> @{entry_type}")
    if record is not None:
        previous = yamlio.read(record_path).get("code")
        write_atomically(record_path, records.render(record))
        report.say(f"  {record_file}: code: {previous or '(none)'} -> {record['code']}")
    report.lines.insert(0, f"Updated {key}:" if report.lines else f"{key} already says that; nothing changed.")
    return report

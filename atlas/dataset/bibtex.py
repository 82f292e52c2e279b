"""Reading bib/papers.bib: entries with their line numbers, plain-text rendering of LaTeX fields,
and the BibTeX-side rules (required fields, key convention, identifier formats)."""

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import bibtexparser
from bibtexparser.model import DuplicateBlockKeyBlock, DuplicateFieldKeyBlock, ParsingFailedBlock

from atlas.dataset.problems import Problem

# lastname + year + first significant title word, all lowercase ASCII: dao2022flashattention
KEY_PATTERN = re.compile(r"^[a-z]+(\d{4})[a-z0-9]+$")
ARXIV_PATTERN = re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})$")
DOI_PATTERN = re.compile(r"^10\.\d{4,9}/\S+$")
URL_PATTERN = re.compile(r"^https?://\S+$")
YEAR_PATTERN = re.compile(r"^\d{4}$")
# markup that would become live HTML if a renderer forgot to escape it
HTML_PATTERN = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>|javascript:", re.IGNORECASE)

REQUIRED_FIELDS = ("title", "author", "year")
ENTRY_TYPES = {"article", "inproceedings", "misc", "book", "incollection", "techreport", "phdthesis"}
VENUE_FIELDS = ("booktitle", "journal", "publisher", "institution", "school")


@dataclass
class BibEntry:
    key: str
    entry_type: str
    fields: dict[str, str]
    line: int  # 1-based line of the '@'
    field_lines: dict[str, int] = field(default_factory=dict)
    raw: str = ""
    bare: frozenset[str] = frozenset()  # fields written without braces: macros (month = jan) or concatenations

    def line_of(self, name: str) -> int:
        return self.field_lines.get(name, self.line)


def parse(text: str, file: str) -> tuple[list[BibEntry], list[Problem]]:
    """Entries in file order, and a problem for every block bibtexparser could not take."""
    library = bibtexparser.parse_string(text)
    problems = []
    for block in library.failed_blocks:
        line = block.start_line + 1
        if isinstance(block, DuplicateBlockKeyBlock):
            problems.append(
                Problem(
                    file,
                    line,
                    f"duplicate BibTeX key {block.key!r}: each paper has one entry; merge the two or rename one",
                )
            )
        elif isinstance(block, DuplicateFieldKeyBlock):
            fields = ", ".join(f"`{f}`" for f in sorted(getattr(block, "duplicate_keys", []) or [])) or "a field"
            key = getattr(getattr(block, "ignore_error_block", None), "key", "?")
            problems.append(
                Problem(file, line, f"entry {key!r} sets {fields} twice; keep one (only one value can be kept)")
            )
        elif isinstance(block, ParsingFailedBlock):
            reason = str(block.error).strip().splitlines()[-1] if str(block.error).strip() else "syntax error"
            problems.append(
                Problem(file, line, f"BibTeX entry does not parse ({reason}); check braces, quotes and commas")
            )
        else:
            problems.append(Problem(file, line, f"BibTeX block does not parse: {getattr(block, 'error', block)}"))
    entries = []
    for e in library.entries:
        fields, lines, bare = {}, {}, set()
        for f in e.fields:
            name = f.key.lower()
            if name in fields:  # `Title` and `title`: BibTeX field names ignore case, so one would be lost
                problems.append(
                    Problem(
                        file,
                        f.start_line + 1,
                        f"entry {e.key!r} sets `{name}` twice (field names ignore case); keep one",
                    )
                )
            fields[name] = str(f.value).strip()
            lines[name] = f.start_line + 1
            if getattr(f, "enclosing", None) == "no-enclosing" and not fields[name].isdigit():
                bare.add(name)
        entries.append(BibEntry(e.key, e.entry_type.lower(), fields, e.start_line + 1, lines, e.raw, frozenset(bare)))
    return entries, problems


def read(path: Path, file: str) -> tuple[list[BibEntry], list[Problem]]:
    if not Path(path).exists():
        return [], [Problem(file, 1, "BibTeX file is missing; it holds one entry per paper")]
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        return [], [Problem(file, 1, f"not valid UTF-8 (byte {err.start}); save the file as UTF-8")]
    return parse(text, file)


def pybtex_problems(text: str, entries: list[BibEntry], file: str) -> list[Problem]:
    """The book's bibliography is rendered by pybtex: every entry must parse there too."""
    from pybtex.database import parse_string
    from pybtex.errors import set_strict_mode

    set_strict_mode(True)
    try:
        parse_string(text, "bibtex")
        return []
    except Exception:  # noqa: BLE001 - locate the culprit entry by entry below
        pass
    problems = []
    for entry in entries:
        try:
            parse_string(entry.raw, "bibtex")
        except Exception as err:  # noqa: BLE001 - pybtex raises several unrelated types
            problems.append(
                Problem(
                    file,
                    entry.line,
                    f"entry {entry.key!r} does not parse in pybtex (the book's bibliography renderer): {err}",
                )
            )
    if not problems:
        problems.append(
            Problem(
                file,
                1,
                "the file does not parse in pybtex (the book's bibliography renderer), though each entry does; look for text between entries",
            )
        )
    return problems


def entry_problems(entry: BibEntry, file: str) -> list[Problem]:
    """Rules that concern one entry alone."""
    problems = []

    def report(name, message):
        problems.append(Problem(file, entry.line_of(name) if name else entry.line, message))

    if entry.entry_type not in ENTRY_TYPES:
        report(
            None,
            f"entry {entry.key!r}: type @{entry.entry_type} is not used here; use one of @{', @'.join(sorted(ENTRY_TYPES))}",
        )
    for name in REQUIRED_FIELDS:
        if not entry.fields.get(name):
            report(None, f"entry {entry.key!r} has no `{name}`; add it (title, author and year are required)")
    if not any(entry.fields.get(n) for n in ("eprint", "doi", "url")):
        report(None, f"entry {entry.key!r} needs a way to find the paper: add `eprint` (arXiv id), `doi` or `url`")
    year = entry.fields.get("year", "")
    key_match = KEY_PATTERN.match(entry.key)
    if not key_match:
        report(
            None,
            f"key {entry.key!r} does not follow the convention lastname+year+firstword in lowercase ASCII, e.g. dao2022flashattention",
        )
    if year and not YEAR_PATTERN.match(year):
        report("year", f"entry {entry.key!r}: year {year!r} must be four digits")
    elif year and key_match and key_match.group(1) != year:
        report(
            "year",
            f"entry {entry.key!r}: the year in the key ({key_match.group(1)}) differs from the year field ({year}); one of them is wrong",
        )
    eprint = entry.fields.get("eprint")
    if eprint and not ARXIV_PATTERN.match(eprint):
        report(
            "eprint",
            f"entry {entry.key!r}: eprint {eprint!r} is not an arXiv id like 2205.14135 (no 'arXiv:' prefix, no version suffix)",
        )
    doi = entry.fields.get("doi")
    if doi and not DOI_PATTERN.match(doi):
        report("doi", f"entry {entry.key!r}: doi {doi!r} should look like 10.1234/abcd (no https://doi.org/ prefix)")
    url = entry.fields.get("url")
    if url and not URL_PATTERN.match(url):
        report("url", f"entry {entry.key!r}: url {url!r} must start with https:// or http://")
    for name, value in entry.fields.items():
        if HTML_PATTERN.search(value):
            report(
                name,
                f"entry {entry.key!r}: `{name}` contains HTML or a script URL; write plain text (LaTeX accents are fine)",
            )
    return problems


# --- plain text -----------------------------------------------------------------------------------

_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
}
_SYMBOLS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "l": "ł",
    "L": "Ł",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "i": "ı",
    "&": "&",
    "%": "%",
    "$": "$",
    "_": "_",
    "#": "#",
}
_ACCENT_RE = re.compile(r"""\\([`'^"~=.]|[uvHckr](?=[\s{]))\s*(?:\{\s*(\\?[A-Za-z])\s*\}|(\\?[A-Za-z]))""")
_SYMBOL_RE = re.compile(r"\\(ss|ae|AE|oe|OE|aa|AA|[oOlLi](?![A-Za-z])|[&%$_#])")


def _accent(match: re.Match) -> str:
    base = (match.group(2) or match.group(3)).lstrip("\\")
    base = "ı" if base == "i" and match.group(1) != "c" else base  # \'{\i}
    base = {"ı": "i"}.get(base, base)
    return unicodedata.normalize("NFC", base + _ACCENTS[match.group(1)])


@lru_cache(maxsize=65536)
def to_text(value: str) -> str:
    """A BibTeX field as plain Unicode text: accents decoded, protective braces dropped."""
    if "\\" in value:
        value = _ACCENT_RE.sub(_accent, value)
        value = _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group(1)], value)
        if "\\" in value:  # rarer macros: the full LaTeX decoder is slower but knows them
            from pylatexenc.latex2text import LatexNodes2Text

            value = LatexNodes2Text().latex_to_text(value)
    value = value.replace("{", "").replace("}", "").replace("---", "—").replace("--", "–")
    return " ".join(value.split())


def split_authors(value: str) -> list[str]:
    """The `author` field's names, split on top-level ' and ' (braced corporate names stay whole)."""
    names, depth, start, i = [], 0, 0, 0
    while i < len(value):
        ch = value[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and value[i : i + 5].lower() == " and ":
            names.append(value[start:i])
            start = i + 5
            i += 4
        i += 1
    names.append(value[start:])
    return [" ".join(n.split()) for n in names if n.strip()]


def display_name(name: str) -> str:
    """'Last, First' -> 'First Last', as plain text."""
    parts = [p.strip() for p in name.split(",")]
    if len(parts) == 2:
        name = f"{parts[1]} {parts[0]}"
    elif len(parts) == 3:  # Last, Jr, First
        name = f"{parts[2]} {parts[0]} {parts[1]}"
    return to_text(name)


def normalized_title(title: str) -> str:
    """Lowercase ASCII words of a title, for spotting the same paper entered twice."""
    text = unicodedata.normalize("NFKD", to_text(title)).encode("ascii", "ignore").decode().lower()
    return " ".join(re.findall(r"[a-z0-9]+", text))


# --- writing ----------------------------------------------------------------------------------------

# the canonical order of fields; any other field follows, alphabetically
FIELD_ORDER = (
    "title",
    "author",
    "year",
    "booktitle",
    "journal",
    "volume",
    "number",
    "pages",
    "publisher",
    "institution",
    "school",
    "eprint",
    "archiveprefix",
    "primaryclass",
    "doi",
    "url",
)


_ENTRY_START = re.compile(r"^@\w+\s*\{\s*([^,\s]+)\s*,", re.MULTILINE)


def entry_texts(text: str) -> dict[str, str]:
    """Each entry's text as written in the file, by key (entries start at a line beginning with @),
    for digests and downloads that need the entry, not its parse."""
    starts = [(m.start(), m.group(1)) for m in _ENTRY_START.finditer(text)]
    ends = [s for s, _ in starts[1:]] + [len(text)]
    return {key: text[start:end].strip() + "\n" for (start, key), end in zip(starts, ends, strict=True)}


def render_entry(entry: BibEntry) -> str:
    """One entry in the Atlas's canonical style: fields in a fixed order, aligned, braced."""
    names = [n for n in FIELD_ORDER if n in entry.fields] + sorted(n for n in entry.fields if n not in FIELD_ORDER)
    width = max((len(n) for n in names), default=0)
    lines = [f"@{entry.entry_type}{{{entry.key},"]
    for name in names:
        value = entry.fields[name]
        shown = value if name in entry.bare else f"{{{value}}}"
        lines.append(f"  {name.ljust(width)} = {shown},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_file(entries: list[BibEntry]) -> str:
    """The whole bibliography: entries sorted by key, one blank line apart."""
    return "\n".join(render_entry(e) for e in sorted(entries, key=lambda e: e.key))

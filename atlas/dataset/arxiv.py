"""Metadata from arXiv's public API, turned into a BibTeX entry for `atlas add --arxiv ID`.

Only the facts arXiv itself states are used: title, authors, first-version date, DOI. A journal
reference is shown to the contributor, not guessed into a venue.
"""

import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

API = "https://export.arxiv.org/api/query?id_list={id}"
NS = {"atom": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}
ID_PATTERN = re.compile(
    r"^(?:arxiv:|https?://arxiv\.org/(?:abs|pdf)/)?(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?(?:\.pdf)?$",
    re.IGNORECASE,
)


class ArxivError(Exception):
    pass


def clean_id(text: str) -> str:
    """'arXiv:2205.14135v2', 'https://arxiv.org/abs/2205.14135' -> '2205.14135'."""
    match = ID_PATTERN.match(text.strip())
    if not match:
        raise ArxivError(f"{text!r} is not an arXiv id (like 2205.14135)")
    return match.group(1)


def fetch(arxiv_id: str, timeout: float = 20) -> str:
    """The API's Atom response for one paper."""
    try:
        with urllib.request.urlopen(API.format(id=arxiv_id), timeout=timeout) as response:
            return response.read().decode("utf-8")
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise ArxivError(
            f"could not reach arXiv ({err}); you are probably offline. Copy the BibTeX from "
            f"https://arxiv.org/abs/{arxiv_id} and run `python -m atlas add --bibtex -` instead"
        ) from None


def _text(node, path: str) -> str:
    found = node.find(path, NS)
    return " ".join(found.text.split()) if found is not None and found.text else ""


def protect_capitals(title: str) -> str:
    """Brace words with two or more capitals (FlashAttention, LLMs, IO), which bibliography styles
    would otherwise lowercase."""
    return re.sub(r"(?<![{\w])([A-Za-z0-9]*[A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*)(?![}\w])", r"{\1}", title)


def to_bibtex(atom: str, arxiv_id: str) -> tuple[str, str]:
    """(BibTeX entry, journal reference or '') from an API response."""
    try:
        root = ET.fromstring(atom)
    except ET.ParseError as err:
        raise ArxivError(f"arXiv's answer could not be read ({err})") from None
    entry = root.find("atom:entry", NS)
    if entry is None or "api/errors" in _text(entry, "atom:id") or not _text(entry, "atom:title"):
        raise ArxivError(f"arXiv has no paper {arxiv_id}; check the id")
    title = protect_capitals(_text(entry, "atom:title"))
    authors = [_text(a, "atom:name") for a in entry.findall("atom:author", NS)]
    year = _text(entry, "atom:published")[:4]
    fields = [
        ("title", title),
        ("author", " and ".join(authors)),
        ("year", year),
        ("eprint", arxiv_id),
        ("archiveprefix", "arXiv"),
    ]
    doi = _text(entry, "arxiv:doi")
    if doi:
        fields.append(("doi", doi))
    fields.append(("url", f"https://arxiv.org/abs/{arxiv_id}"))
    abstract = " ".join(_text(entry, "atom:summary").split())
    if abstract:  # kept only long enough for `atlas add` to check the summary against it
        fields.append(("abstract", abstract.replace("{", "(").replace("}", ")")))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{new,\n{body},\n}}\n", _text(entry, "arxiv:journal_ref")

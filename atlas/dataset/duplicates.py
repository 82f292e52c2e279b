"""When two BibTeX entries are the same paper: same arXiv id, same DOI, or (nearly) the same title.

One place for the rule, used by the validator (all pairs) and by `atlas add` (a new entry against
the dataset), so a contributor is refused for exactly what CI would flag.
"""

import difflib
from collections import defaultdict

from atlas.dataset.bibtex import BibEntry, normalized_title

TITLE_SIMILARITY = 0.93  # difflib ratio above which two normalised titles name the same paper


class Identity:
    """What identifies a paper, computed once per entry."""

    def __init__(self, entry: BibEntry):
        self.key = entry.key
        self.arxiv = entry.fields.get("eprint", "").strip().lower()
        self.doi = entry.fields.get("doi", "").strip().lower()
        self.title = normalized_title(entry.fields.get("title", ""))
        squashed = self.title.replace(" ", "")
        self.blocks = ("^" + squashed[:14], "$" + squashed[-14:]) if squashed else ()


def same_paper(a: Identity, b: Identity) -> str | None:
    """Why a and b are the same paper (a sentence fragment), or None."""
    if a.arxiv and a.arxiv == b.arxiv:
        return f"the same arXiv id ({a.arxiv})"
    if a.doi and a.doi == b.doi:
        return f"the same DOI ({a.doi})"
    if a.title and b.title:
        matcher = difflib.SequenceMatcher(None, a.title, b.title)
        if a.title == b.title or (matcher.quick_ratio() >= TITLE_SIMILARITY and matcher.ratio() >= TITLE_SIMILARITY):
            return "nearly the same title"
    return None


def find_all(entries: list[BibEntry]) -> list[tuple[BibEntry, BibEntry, str]]:
    """Every (later, earlier, reason) pair of entries that name the same paper, in file order.

    Identifiers are compared through dictionaries; titles only within blocks of titles sharing
    their first or last characters (near-duplicates almost always do), so this stays fast at 10,000s.
    """
    ids = [Identity(e) for e in entries]
    found, seen_pairs = [], set()

    def report(i, j, reason):
        if (j, i) not in seen_pairs:
            seen_pairs.add((j, i))
            found.append((entries[i], entries[j], reason))

    for attr in ("arxiv", "doi"):
        first: dict[str, int] = {}
        for i, ident in enumerate(ids):
            value = getattr(ident, attr)
            if value in first:
                report(i, first[value], same_paper(ident, ids[first[value]]))
            elif value:
                first[value] = i
    blocks = defaultdict(list)
    for i, ident in enumerate(ids):
        for block in ident.blocks:
            blocks[block].append(i)
    for members in blocks.values():
        for n, i in enumerate(members):
            for j in members[:n]:
                if (
                    (j, i) not in seen_pairs
                    and ids[i].title
                    and (reason := same_paper(ids[i], ids[j])) == "nearly the same title"
                ):
                    report(i, j, reason)
    return sorted(found, key=lambda t: t[0].line)


def match(entry: BibEntry, existing: list[BibEntry]) -> tuple[BibEntry, str] | None:
    """The existing entry that is the same paper as `entry`, with the reason."""
    new = Identity(entry)
    for other in existing:
        reason = same_paper(new, Identity(other))
        if reason:
            return other, reason
    return None

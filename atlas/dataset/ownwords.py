"""Is a summary in the Atlas's own words? The longest run of words it shares with the abstract.

    longest_shared_run(summary, abstract)  ->  (length in words, the shared words)

Words are compared lower-cased, with punctuation stripped, so a copied clause is found even when its
commas or capitals changed. `atlas add` runs this whenever the entry it is given carries an
abstract (arXiv and most reference managers export one) and refuses a summary that shares a run of
MAX_RUN or more words; `python -m atlas words KEY --abstract FILE` checks a record already in.
"""

import re

MAX_RUN = 8  # a run this long is a copied clause, not a shared technical term
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")  # hyphens split: 'full-parameter' = 'full parameter'


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def longest_shared_run(summary: str, abstract: str) -> tuple[int, str]:
    """The longest sequence of consecutive words that appears in both texts (dynamic programming
    over word positions; summaries and abstracts are short, so the quadratic cost is nothing)."""
    a, b = words(summary), words(abstract)
    best, end = 0, 0
    previous = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        current = [0] * (len(b) + 1)
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                current[j] = previous[j - 1] + 1
                if current[j] > best:
                    best, end = current[j], i
        previous = current
    return best, " ".join(a[end - best : end])


def problem(summary: str, abstract: str) -> str | None:
    """A message when the summary copies a clause of the abstract, else None."""
    length, run = longest_shared_run(summary, abstract)
    if length >= MAX_RUN:
        return (
            f"the summary repeats {length} words of the abstract in a row ({run!r}); "
            "say it in your own words (runs of fewer than " + str(MAX_RUN) + " words are fine)"
        )
    return None

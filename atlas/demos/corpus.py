"""The corpus the lab's models are trained on: tiny-shakespeare, a character tokenizer, a fixed split.

    text = corpus.text()                       # checked against its recorded sha256
    ids = corpus.split("val")                  # the last 10% of the text, as token ids
    x, y = corpus.batch("train", 16, 256, generator)

Characters are the tokens. Every model in the family shares this one vocabulary, its loss is
directly comparable (nats per character), and there is no tokenizer to train or ship. The vocabulary
is the 95 printable ASCII characters and the newline rather than only the 65 that occur in
Shakespeare, so other English text (the Atlas's own paper summaries, for fine-tuning) can be encoded.
"""

import functools
import hashlib
import string
import unicodedata

import torch

from atlas import paths, reads

NAME = "tinyshakespeare.txt"
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
VAL_FRACTION = 0.1

VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))  # newline + printable ASCII: 96 tokens
VOCAB_SIZE = len(VOCAB)
_ID = {ch: i for i, ch in enumerate(VOCAB)}


class CorpusError(RuntimeError):
    pass


def path():
    return paths.root() / "data" / "corpora" / NAME


@functools.cache
def text() -> str:
    """The whole corpus, refused if it is not the recorded file (a truncated copy would train quietly)."""
    raw = path().read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        raise CorpusError(f"{paths.relative(path())}: sha256 {digest} is not the recorded {SHA256}; restore the file")
    reads.note("corpus", NAME)
    return raw.decode("utf-8")


def encode(s: str, errors: str = "strict") -> torch.Tensor:
    """Token ids of s. errors="replace" first folds accents and typographic punctuation to ASCII,
    then maps what is left to '?'; "strict" refuses any character outside the vocabulary."""
    if errors == "replace":
        s = _to_ascii(s)
    try:
        return torch.tensor([_ID[ch] for ch in s], dtype=torch.long)
    except KeyError as err:
        raise ValueError(f"character {err.args[0]!r} is not in the vocabulary; pass errors='replace'") from None


def decode(ids) -> str:
    return "".join(VOCAB[i] for i in torch.as_tensor(ids).tolist())


_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})


def _to_ascii(s: str) -> str:
    s = unicodedata.normalize("NFKD", s.translate(_TYPOGRAPHIC))
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return "".join(
        ch if ch in _ID else ("\n" if ch in "\r\n" else ("?" if ch not in string.whitespace else " ")) for ch in s
    )


@functools.cache
def _ids() -> torch.Tensor:
    return encode(text())


def split(name: str) -> torch.Tensor:
    """'train': the first 90% of the corpus; 'val': the last 10%. Always the same characters."""
    ids = _ids()
    cut = int(len(ids) * (1 - VAL_FRACTION))
    if name == "train":
        return ids[:cut]
    if name == "val":
        return ids[cut:]
    raise ValueError(f"split must be 'train' or 'val', not {name!r}")


def batch(split_name: str, batch_size: int, context: int, generator: torch.Generator, ids: torch.Tensor | None = None):
    """Random windows: inputs x and next-token targets y, each (batch_size, context).

    `generator` makes the draw reproducible; `ids` batches another token sequence the same way."""
    ids = split(split_name) if ids is None else ids
    starts = torch.randint(len(ids) - context - 1, (batch_size,), generator=generator)
    x = torch.stack([ids[s : s + context] for s in starts.tolist()])
    y = torch.stack([ids[s + 1 : s + 1 + context] for s in starts.tolist()])
    return x, y


def windows(split_name: str, context: int, max_tokens: int | None = None, ids: torch.Tensor | None = None):
    """Consecutive non-overlapping windows (x, y) from the start of a split: a fixed evaluation set.

    max_tokens caps the number of predicted tokens (the chapters' quick evaluation uses a prefix)."""
    ids = split(split_name) if ids is None else ids
    n = (len(ids) - 1) // context
    if max_tokens is not None:
        n = min(n, max(1, max_tokens // context))
    usable = ids[: n * context + 1]
    x = usable[:-1].reshape(n, context)
    y = usable[1:].reshape(n, context)
    return x, y

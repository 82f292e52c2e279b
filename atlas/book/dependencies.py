"""Fingerprints of what a page can read, so a rebuild re-executes exactly the pages whose inputs changed.

A page's record (atlas.book.execute) lists what it read while it ran, as atlas.reads noted it:
("dataset", "all"), ("dataset", "chapter:inference"), ("dataset", "paper:<key>"),
("corpus", "<file>"), ("model", "<name>"). `Snapshot` gives the current digest of each, computed
from the files on disk, plus `environment()`: the atlas package's code, the taxonomy and the
versions of the libraries the pages run on, which every page depends on.
"""

import functools
import hashlib
import sys
from importlib import metadata
from pathlib import Path

import yaml

from atlas import paths
from atlas.book.environment import pages_in_book
from atlas.dataset import bibtex

_LIBRARIES = ("torch", "numpy", "pandas", "altair", "jupyter-book", "myst-nb", "ipykernel")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def digest_of(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


class Snapshot:
    """The dataset and lab files of one tree as they are now; each digest is computed once."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root or paths.root())

    @functools.cached_property
    def _records(self) -> dict[str, bytes]:
        return {p.stem: p.read_bytes() for p in sorted(paths.papers_dir(self.root).glob("*.yaml"))}

    @functools.cached_property
    def _entries(self) -> dict[str, bytes]:
        text = paths.bib_file(self.root).read_bytes().decode("utf-8", "replace")
        return {key: entry.encode() for key, entry in bibtex.entry_texts(text).items()}

    @functools.cached_property
    def _chapters(self) -> dict[str, set[str]]:
        """Chapter id -> keys of the papers with a topic in it."""
        taxonomy = yaml.load(paths.taxonomy_file(self.root).read_bytes(), Loader=_Loader)
        chapter_of = {t["id"]: c["id"] for c in taxonomy["chapters"] for t in c["topics"]}
        members: dict[str, set[str]] = {c["id"]: set() for c in taxonomy["chapters"]}
        for key, raw in self._records.items():
            try:
                topics = (yaml.load(raw, Loader=_Loader) or {}).get("topics") or []
            except yaml.YAMLError:
                topics = []  # the validator has refused the build already; this only keeps the digest defined
            for topic in topics if isinstance(topics, list) else []:
                if topic in chapter_of:
                    members[chapter_of[topic]].add(key)
        return members

    def entry_digests(self) -> dict[str, str]:
        """Each BibTeX entry's digest, by key: which citations an edit to bib/ changed."""
        return {key: digest_of(entry) for key, entry in self._entries.items()}

    def _paper(self, key: str) -> str:
        return digest_of(key.encode(), self._records.get(key, b""), self._entries.get(key, b""))

    def digest(self, kind: str, name: str) -> str:
        if kind == "dataset":
            if name == "all":
                keys = sorted(set(self._records) | set(self._entries))
            elif name.startswith("chapter:"):
                keys = sorted(self._chapters.get(name.removeprefix("chapter:"), set()))
            elif name.startswith("paper:"):
                keys = [name.removeprefix("paper:")]
            else:
                raise ValueError(f"unknown dataset slice {name!r}")
            return digest_of(name.encode(), *(self._paper(k).encode() for k in keys))
        if kind == "corpus":
            return file_digest(self.root / "data" / "corpora" / name)
        if kind == "model":
            return file_digest(self.root / "data" / "models" / f"{name}.safetensors")
        if kind == "toc":  # which pages the book builds, not how _toc.yml is laid out
            return digest_of(*(page.encode() for page in sorted(pages_in_book(self.root))))
        raise ValueError(f"unknown kind of read {kind!r}")

    @functools.cached_property
    def environment(self) -> str:
        """What every page depends on: the atlas code, the taxonomy, Python and the libraries."""
        files = sorted(p for p in (self.root / "atlas").rglob("*.py") if "__pycache__" not in p.parts)
        parts = [str(p.relative_to(self.root)).encode() + b"\0" + p.read_bytes() for p in files]
        parts.append(paths.taxonomy_file(self.root).read_bytes())
        parts.append(sys.version.encode())
        for name in _LIBRARIES:
            try:
                parts.append(f"{name}=={metadata.version(name)}".encode())
            except metadata.PackageNotFoundError:
                parts.append(f"{name} absent".encode())
        return digest_of(*parts)


def file_digest(path: Path) -> str:
    return digest_of(path.name.encode(), path.read_bytes()) if path.exists() else "missing"

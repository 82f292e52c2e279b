"""Every link in the dataset, and which of them no longer answer (`scripts/check_links.py`)."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib import error, request

from atlas import paths
from atlas.dataset import bibtex, yamlio
from atlas.dataset.problems import Problem

USER_AGENT = "llm-efficiency-atlas-link-check (+https://github.com/llm-efficiency-atlas/atlas)"


@dataclass(frozen=True)
class Link:
    url: str
    file: str
    line: int


def collect(root: Path | None = None) -> list[Link]:
    """Paper pages (url, DOI, arXiv) from the bibliography and code links from the records."""
    root = Path(root or paths.root())
    bib_file = paths.relative(paths.bib_file(root))
    entries, _ = bibtex.read(paths.bib_file(root), bib_file)
    links = []
    for e in entries:
        if e.fields.get("url"):
            links.append(Link(e.fields["url"], bib_file, e.line_of("url")))
        if e.fields.get("doi"):
            links.append(Link(f"https://doi.org/{e.fields['doi']}", bib_file, e.line_of("doi")))
        if e.fields.get("eprint") and f"arxiv.org/abs/{e.fields['eprint']}" not in e.fields.get("url", ""):
            links.append(Link(f"https://arxiv.org/abs/{e.fields['eprint']}", bib_file, e.line_of("eprint")))
    for path in sorted(paths.papers_dir(root).glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        try:
            code = (yamlio.parse(text) or {}).get("code")
        except yamlio.YamlSyntaxError:
            continue
        if code:
            links.append(Link(code, paths.relative(path), yamlio.line_of(text, ["code"])))
    return links


def status(url: str, timeout: float = 20) -> int:
    """The HTTP status a link answers with (HEAD, then GET for servers that refuse HEAD); 0 if none."""
    for method in ("HEAD", "GET"):
        req = request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
        try:
            with request.urlopen(req, timeout=timeout) as response:
                return response.status
        except error.HTTPError as err:
            if method == "HEAD" and err.code in (403, 405, 501):
                continue
            return err.code
        except (error.URLError, TimeoutError, OSError):
            if method == "GET":
                return 0
    return 0


def dead(links: list[Link], workers: int = 16, timeout: float = 20) -> list[Problem]:
    """Problems for links that fail: not found or gone (4xx except rate limits) or no answer at all."""
    unique = sorted({link.url for link in links})
    with ThreadPoolExecutor(max_workers=workers) as pool:
        answers = dict(zip(unique, pool.map(lambda u: status(u, timeout), unique), strict=True))
    problems = []
    for link in links:
        code = answers[link.url]
        if code == 0 or (400 <= code < 600 and code not in (401, 403, 429)):
            reason = "no answer" if code == 0 else f"HTTP {code}"
            problems.append(Problem(link.file, link.line, f"dead link {link.url} ({reason}); fix or remove it"))
    return sorted(problems)

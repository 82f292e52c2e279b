"""The controlled vocabulary in data/taxonomy.yaml: chapters and topics, stages, kinds, result metrics."""

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from atlas import paths
from atlas.dataset import yamlio
from atlas.dataset.problems import DatasetError, Problem


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    description: str
    chapter: str
    keywords: tuple[str, ...] = ()  # lower-case phrases `atlas watch` finds new papers by


@dataclass(frozen=True)
class Chapter:
    id: str
    title: str
    description: str
    topics: tuple[Topic, ...]
    stages: tuple[str, ...] = ()  # the usual stages of its papers: `atlas add`'s default


@dataclass(frozen=True)
class Metric:
    id: str
    title: str
    unit: str
    better: str  # higher | lower | neither
    description: str


@dataclass(frozen=True)
class Taxonomy:
    chapters: tuple[Chapter, ...]
    stages: tuple[str, ...]
    kinds: tuple[str, ...]
    metrics: dict[str, Metric]
    crosswalk: tuple[dict, ...] = field(default=())

    @property
    def topics(self) -> dict[str, Topic]:
        return {t.id: t for c in self.chapters for t in c.topics}

    def chapter(self, chapter_id: str) -> Chapter:
        for c in self.chapters:
            if c.id == chapter_id:
                return c
        raise KeyError(f"no chapter {chapter_id!r}; chapters are {[c.id for c in self.chapters]}")

    def chapter_of(self, topic_id: str) -> str:
        return self.topics[topic_id].chapter


_LISTS = ("chapters", "stages", "kinds", "metrics")


def check(raw, file: str, text: str) -> list[Problem]:
    """Structural problems of the taxonomy file itself (unique ids, required fields)."""
    problems: list[Problem] = []

    def report(where, message):
        problems.append(Problem(file, yamlio.line_of(text, where), message))

    if not isinstance(raw, dict):
        return [Problem(file, 1, "the taxonomy must be a mapping with chapters, stages, kinds and metrics")]
    for name in _LISTS:
        if not isinstance(raw.get(name), list) or not raw[name]:
            report([name], f"`{name}` must be a non-empty list")
    if problems:
        return problems
    seen: dict[str, str] = {}
    for ci, chapter in enumerate(raw["chapters"]):
        if not isinstance(chapter, dict) or not all(chapter.get(k) for k in ("id", "title", "description", "topics")):
            report(["chapters", ci], "each chapter needs id, title, description and a list of topics")
            continue
        for ti, topic in enumerate(chapter["topics"]):
            where = ["chapters", ci, "topics", ti]
            if not isinstance(topic, dict) or not all(topic.get(k) for k in ("id", "title", "description")):
                report(where, "each topic needs id, title and description")
            elif not isinstance(topic.get("keywords", []), list) or not all(
                isinstance(k, str) and k == k.lower() for k in topic.get("keywords", [])
            ):
                report([*where, "keywords"], "`keywords` must be a list of lower-case phrases")
            elif topic["id"] in seen:
                report(
                    where,
                    f"topic id {topic['id']!r} is used twice (also in chapter {seen[topic['id']]!r}); ids must be unique",
                )
            else:
                seen[topic["id"]] = chapter["id"]
    for mi, metric in enumerate(raw["metrics"]):
        if not isinstance(metric, dict) or not all(k in metric for k in ("id", "title", "unit", "better")):
            report(["metrics", mi], "each metric needs id, title, unit and better")
        elif metric["better"] not in ("higher", "lower", "neither"):
            report(["metrics", mi, "better"], "`better` must be higher, lower or neither")
    return problems


def check_crosswalk(taxonomy: "Taxonomy", file: str, text: str) -> list[Problem]:
    """Every crosswalk category maps onto topics that exist."""
    problems = []
    for si, survey in enumerate(taxonomy.crosswalk):
        for ki, category in enumerate(survey.get("categories", [])):
            for topic in category.get("topics", []):
                if topic not in taxonomy.topics:
                    where = ["crosswalk", si, "categories", ki, "topics"]
                    problems.append(
                        Problem(file, yamlio.line_of(text, where), f"crosswalk names unknown topic {topic!r}")
                    )
    return problems


def parse(raw) -> Taxonomy:
    chapters = tuple(
        Chapter(
            id=c["id"],
            title=c["title"],
            description=c["description"],
            topics=tuple(
                Topic(t["id"], t["title"], t["description"], c["id"], tuple(t.get("keywords") or ()))
                for t in c["topics"]
            ),
            stages=tuple(c.get("stages") or ()),
        )
        for c in raw["chapters"]
    )
    metrics = {
        m["id"]: Metric(m["id"], m["title"], str(m["unit"]), m["better"], m.get("description", ""))
        for m in raw["metrics"]
    }
    return Taxonomy(
        chapters=chapters,
        stages=tuple(s["id"] for s in raw["stages"]),
        kinds=tuple(k["id"] for k in raw["kinds"]),
        metrics=metrics,
        crosswalk=tuple(raw.get("crosswalk") or ()),
    )


def read(path: Path | None = None) -> tuple[Taxonomy | None, list[Problem]]:
    """The taxonomy and the problems found in it (a None taxonomy when it cannot be used)."""
    path = Path(path or paths.taxonomy_file())
    file = paths.relative(path)
    if not path.exists():
        return None, [Problem(file, 1, "taxonomy file is missing; it defines the chapters and topics")]
    text = path.read_text(encoding="utf-8")
    try:
        raw = yamlio.parse(text)
    except yamlio.YamlSyntaxError as err:
        return None, [Problem(file, err.line, str(err))]
    problems = check(raw, file, text)
    if problems:
        return None, problems
    taxonomy = parse(raw)
    return taxonomy, check_crosswalk(taxonomy, file, text)


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> Taxonomy:
    taxonomy, problems = read(Path(path))
    if taxonomy is None or problems:
        raise DatasetError(problems)
    return taxonomy


def load(path: Path | None = None) -> Taxonomy:
    """The taxonomy, or DatasetError naming what is wrong with it."""
    path = Path(path or paths.taxonomy_file())
    return _load_cached(str(path), path.stat().st_mtime if path.exists() else 0.0)

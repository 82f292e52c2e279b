"""The JSON Schema of a paper's YAML record, generated from the taxonomy.

The schema is published as data/schema/paper.schema.json so that editors autocomplete topic ids
and flag mistakes as a contributor types. It is derived, never edited: the taxonomy is the one
place a topic or metric is defined, and `python -m atlas schema --write` regenerates the file.
"""

import json
from pathlib import Path

from atlas import paths
from atlas.dataset.bibtex import KEY_PATTERN
from atlas.dataset.taxonomy import Taxonomy

PRECISION_PATTERN = r"^W[0-9.]+A[0-9.]+(KV[0-9.]+)?$"
WHERE_PATTERN = (
    r"^(Abstract|Introduction|Conclusion|README|(Table|Figure|Section|Appendix|Algorithm|Equation) [A-Za-z0-9.]+)"
)
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def build(taxonomy: Taxonomy) -> dict:
    text = {"type": "string", "minLength": 1, "maxLength": 200}
    result = {
        "type": "object",
        "additionalProperties": False,
        "required": ["metric", "value", "baseline", "setting", "where"],
        "properties": {
            "metric": {"enum": list(taxonomy.metrics), "description": "a metric id from data/taxonomy.yaml"},
            "value": {"type": "number", "description": "the number as the paper reports it, in the metric's unit"},
            "baseline": {**text, "description": "what the number is compared with"},
            "baseline_value": {"type": "number", "description": "the baseline's number in the same table, where given"},
            "precision": {
                "type": "string",
                "pattern": PRECISION_PATTERN,
                "description": "quantization setting, e.g. W4A16 or W4A8KV4",
            },
            "setting": {**text, "description": "model / data / hardware, short"},
            "where": {
                "type": "string",
                "pattern": WHERE_PATTERN,
                "description": "where in the paper: Abstract, Table 2, Figure 3, Section 4.1",
            },
        },
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",  # the draft editors support best
        "$id": "paper.schema.json",
        "title": "LLM Efficiency Atlas: one paper's annotations",
        "description": "Generated from data/taxonomy.yaml by `python -m atlas schema --write`; do not edit by hand.",
        "type": "object",
        "additionalProperties": False,
        "required": ["key", "topics", "stages", "kind", "summary", "added"],
        "properties": {
            "key": {
                "type": "string",
                "pattern": KEY_PATTERN.pattern,
                "description": "the BibTeX key, equal to the file name",
            },
            "topics": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"enum": list(taxonomy.topics)},
                "description": "topic ids from data/taxonomy.yaml; the first is the primary topic",
            },
            "stages": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": list(taxonomy.stages)}},
            "kind": {"enum": list(taxonomy.kinds)},
            "summary": {
                "type": "string",
                "minLength": 40,
                "maxLength": 900,
                "description": "1-3 sentences in the Atlas's own words",
            },
            "code": {
                "type": "string",
                "pattern": r"^https://[^\s()<>\[\]{}\"'`]+$",
                "description": "the official code repository",
            },
            "added": {
                "type": "string",
                "pattern": DATE_PATTERN,
                "description": "the date the paper entered the Atlas (YYYY-MM-DD)",
            },
            "results": {"type": "array", "items": result, "description": "headline numbers as the paper reports them"},
        },
    }


def render(taxonomy: Taxonomy) -> str:
    return json.dumps(build(taxonomy), indent=2) + "\n"


def write(taxonomy: Taxonomy, path: Path | None = None) -> Path:
    path = Path(path or paths.schema_file())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(taxonomy), encoding="utf-8")
    return path

"""Writing a paper's YAML record in the Atlas's one canonical style.

Keys in a fixed order, id lists on one line, the summary folded at about 100 characters, results as
a block list. Every record is re-read after rendering and must equal what went in; where the
canonical style would change a value (unusual whitespace in a summary, say), the value is written
quoted instead, so formatting can never alter data.
"""

import yaml

from atlas.dataset import yamlio

KEY_ORDER = ("key", "topics", "stages", "kind", "summary", "code", "added", "results")
RESULT_ORDER = ("metric", "value", "baseline", "baseline_value", "precision", "setting", "where")
WRAP = 100


def scalar(value) -> str:
    """One YAML scalar, plain where that reads back the same, quoted otherwise."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**9)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _folded(text: str, indent: str) -> list[str] | None:
    """`>-` block lines for text, or None when folding would not read back identically."""
    if not text or text != " ".join(text.split()) or text.startswith(("#", "-", " ")):
        return None
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > WRAP:
            lines.append(indent + line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(indent + line)
    return lines


def _ordered(mapping: dict, order) -> list:
    return [k for k in order if k in mapping] + [k for k in mapping if k not in order]


def _render(data: dict, fold: bool) -> str:
    out = []
    for key in _ordered(data, KEY_ORDER):
        value = data[key]
        if key == "summary" and isinstance(value, str) and fold and (lines := _folded(value, "  ")):
            out += ["summary: >-", *lines]
        elif key == "results" and isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            out.append("results:")
            for result in value:
                for i, field in enumerate(_ordered(result, RESULT_ORDER)):
                    out.append(f"{'  - ' if i == 0 else '    '}{field}: {scalar(result[field])}")
        else:
            out.append(f"{key}: {scalar(value)}")
    return "\n".join(out) + "\n"


def render(data: dict) -> str:
    for fold in (True, False):
        text = _render(data, fold)
        if yamlio.parse(text) == data:
            return text
    raise ValueError(f"record {data.get('key')!r} cannot be written without changing it; please report this")

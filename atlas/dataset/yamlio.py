"""Reading YAML fast, and finding the line of a value only when a message needs one."""

from pathlib import Path

import yaml

from atlas.dataset.problems import Problem

try:  # libyaml is about ten times faster; fall back to pure Python where it is missing
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


class YamlSyntaxError(Exception):
    def __init__(self, line: int, message: str):
        self.line = line
        super().__init__(message)


def parse(text: str):
    """Parse YAML text; a syntax error becomes YamlSyntaxError with a 1-based line."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        what = err.problem or "invalid YAML"
        context = f" ({err.context})" if err.context else ""
        raise YamlSyntaxError(line, f"YAML syntax error: {what}{context}") from None
    except yaml.YAMLError as err:
        raise YamlSyntaxError(1, f"YAML error: {err}") from None


def read(path: Path):
    return parse(Path(path).read_text(encoding="utf-8"))


def read_mapping(path: Path, file: str):
    """(data, text, None) for a readable YAML mapping, else (None, text, Problem) saying what is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        return None, "", Problem(file, 1, f"not valid UTF-8 (byte {err.start}); save the file as UTF-8")
    try:
        data = parse(text)
    except YamlSyntaxError as err:
        return None, text, Problem(file, err.line, str(err))
    if not isinstance(data, dict):
        return None, text, Problem(file, 1, "a paper file must be a YAML mapping (key: ..., topics: [...], ...)")
    return data, text, None


def line_of(text: str, where: list) -> int:
    """The 1-based line of the value at `where` (mapping keys and list indexes) in YAML `text`.

    Falls back to the deepest node that exists, so a missing key points at its parent mapping.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return 1
    if node is None:
        return 1
    line = node.start_mark.line
    for step in where:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == step:
                    child, line = value_node, key_node.start_mark.line
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            child = node.value[step]
            line = child.start_mark.line
        if child is None:
            break
        node = child
    return line + 1

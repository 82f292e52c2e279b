"""Reading YAML fast and strictly, and finding the line of a value only when a message needs one.

Strict means nothing a contributor writes is silently lost or changed on the way in. Plain YAML
would keep only the last of two values given for one key, read `012` as 10 and `1:30` as 90
(YAML 1.1's octal and base-60 numbers), `.nan` and `.inf` as numbers, `yes` and `no` as
booleans, and copy values through anchors and merge keys; each of those is refused here with the
line and the fix.
"""

import math
import re
from pathlib import Path

import yaml

from atlas.dataset.problems import Problem

try:  # libyaml is about ten times faster; fall back to pure Python where it is missing
    _Base = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Base = yaml.SafeLoader

_PLAIN_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_PLAIN_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?$")


class _Refused(yaml.MarkedYAMLError):
    pass


def _refuse(node, problem: str):
    raise _Refused(problem=problem, problem_mark=node.start_mark)


class _StrictLoader(_Base):
    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                _refuse(key_node, "merge keys (<<) are not allowed: write every field out")
            key = key_node.value
            if key in seen:
                _refuse(
                    key_node,
                    f"`{key}` is given twice (also on line {seen[key] + 1}); YAML would keep only the last one: keep one",
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)

    def construct_document(self, node):
        _no_aliases(node, set())
        return super().construct_document(node)


def _no_aliases(node, seen: set) -> None:
    """An alias (*name) makes one node appear twice in the tree: refuse it, since an edit to the
    anchored value would silently change every place that copies it."""
    if id(node) in seen:
        _refuse(node, "anchors and aliases (&name, *name) are not allowed: write the value out")
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            _no_aliases(key_node, seen)
            _no_aliases(value_node, seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _no_aliases(item, seen)


def _strict_int(loader, node):
    if not _PLAIN_INT.match(node.value):
        _refuse(
            node,
            f"`{node.value}` would be read as the number {loader.construct_yaml_int(node)} (YAML 1.1's "
            "octal, hex, base-60 or underscore form); write it in plain decimal, or quote it if it is text",
        )
    return int(node.value)


def _strict_float(loader, node):
    if not _PLAIN_FLOAT.match(node.value):
        value = loader.construct_yaml_float(node)
        if not math.isfinite(value):
            _refuse(node, f"`{node.value}` is not a finite number; a result must be a number the paper states")
        _refuse(
            node,
            f"`{node.value}` would be read as the number {value} (YAML 1.1's base-60 or underscore form); "
            "write it in plain decimal, or quote it if it is text",
        )
    return float(node.value)


def _strict_bool(loader, node):
    if node.value not in ("true", "false"):
        _refuse(node, f"`{node.value}` would be read as a boolean; quote it if it is text, or write true/false")
    return node.value == "true"


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _strict_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _strict_float)
_StrictLoader.add_constructor("tag:yaml.org,2002:bool", _strict_bool)
_Loader = _StrictLoader


class YamlSyntaxError(Exception):
    def __init__(self, line: int, message: str):
        self.line = line
        super().__init__(message)


def parse(text: str):
    """Parse YAML text; a syntax error becomes YamlSyntaxError with a 1-based line."""
    try:
        return yaml.load(text, Loader=_Loader)
    except _Refused as err:
        raise YamlSyntaxError(err.problem_mark.line + 1, err.problem) from None
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

"""YAML read with its places: every mapping, sequence and scalar keeps its line and column,
so that an error can point at what it is about. Anchors and aliases are refused, as Azure
Pipelines refuses them, and so are duplicate keys."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from labtui.targets.local.azpipelines.errors import PipelineError
from labtui.targets.local.azpipelines.expressions import to_string


@dataclass
class Y:
    """A located YAML value: `kind` is scalar (value str), seq (list[Y]) or map
    (list[tuple[Y, Y]], in file order)."""

    kind: str
    value: Any
    line: int
    column: int
    tag: str = "str"  # for scalars: str, int, float, bool or null as YAML resolves them
    file: str = ""  # the file it was read from (a template's nodes name the template)

    @property
    def text(self) -> str:
        return str(self.value) if self.kind == "scalar" else ""

    def pairs(self) -> Iterator[tuple[Y, Y]]:
        pairs: list[tuple[Y, Y]] = self.value
        yield from pairs

    def get(self, key: str) -> Y | None:
        for name, value in self.pairs():
            if name.text == key:
                return value
        return None

    def key_names(self) -> list[str]:
        return [name.text for name, _ in self.value]


def scalar(text: str, line: int, column: int, tag: str = "str", file: str = "") -> Y:
    return Y("scalar", text, line, column, tag, file)


def from_python(value: object, line: int, column: int, file: str = "") -> Y:
    """A value computed by a template expression, placed where the expression was."""
    if isinstance(value, Y):
        return value
    if isinstance(value, dict):
        return Y("map", [(scalar(str(k), line, column, file=file),
                          from_python(v, line, column, file))
                         for k, v in value.items()], line, column, file=file)
    if isinstance(value, list):
        return Y("seq", [from_python(v, line, column, file) for v in value], line, column,
                 file=file)
    tag = "bool" if isinstance(value, bool) else "null" if value is None else \
        "float" if isinstance(value, int | float) else "str"
    return scalar(to_string(value), line, column, tag, file)


def to_python(node: Y) -> object:
    """The plain value of a YAML node (for parameters of type object and their defaults)."""
    if node.kind == "map":
        return {key.text: to_python(value) for key, value in node.pairs()}
    if node.kind == "seq":
        return [to_python(item) for item in node.value]
    if node.tag == "null":
        return None
    if node.tag == "bool":
        return node.text.lower() in ("true", "yes", "on")
    if node.tag in ("int", "float"):
        try:
            return float(node.text)
        except ValueError:
            return node.text
    return node.text


TAGS = {"tag:yaml.org,2002:null": "null", "tag:yaml.org,2002:bool": "bool",
        "tag:yaml.org,2002:int": "int", "tag:yaml.org,2002:float": "float"}


def convert(node: yaml.Node, file: str) -> Y:
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if isinstance(node, yaml.ScalarNode):
        return scalar(str(node.value), line, column, TAGS.get(node.tag, "str"), file)
    if isinstance(node, yaml.SequenceNode):
        return Y("seq", [convert(item, file) for item in node.value], line, column, file=file)
    if isinstance(node, yaml.MappingNode):
        pairs: list[tuple[Y, Y]] = []
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = convert(key_node, file)
            if key.kind != "scalar":
                raise PipelineError(file, key.line, key.column, "a mapping key must be text")
            if key.text in seen:
                raise PipelineError(file, key.line, key.column,
                                    f"'{key.text}' is already defined")
            seen.add(key.text)
            pairs.append((key, convert(value_node, file)))
        return Y("map", pairs, line, column, file=file)
    raise PipelineError(file, line, column, "unsupported YAML node")


def read(text: str, file: str) -> Y:
    """Parse one YAML document into located nodes; malformed YAML is a PipelineError."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            anchor = getattr(event, "anchor", None)
            if isinstance(event, yaml.AliasEvent) or anchor:
                mark = event.start_mark
                line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
                raise PipelineError(file, line, column,
                                    "anchors and aliases are not supported (Azure Pipelines "
                                    "refuses them)")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = " ".join(part for part in (error.context, error.problem) if part)
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise PipelineError(file, line, column, f"malformed YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise PipelineError(file, 0, 0, f"malformed YAML: {error}") from None
    if node is None:
        raise PipelineError(file, 0, 0, "the file is empty")
    return convert(node, file)

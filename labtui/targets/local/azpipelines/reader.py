"""The small readers every part of a pipeline file goes through: a node of the kind it must
be (mapping, text, true/false, minutes, names, an identifier, a condition, a branch filter),
and names that must be unique and not depend on each other in a loop; each failure is a
`PipelineError` at the node's file, line and column."""

from __future__ import annotations

import re

from labtui.targets.local.azpipelines.errors import ExpressionError, PipelineError
from labtui.targets.local.azpipelines.expressions import parse
from labtui.targets.local.azpipelines.model import (
    Condition,
    Place,
)
from labtui.targets.local.azpipelines.yamlnodes import Y

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_RETRIES = 10  # Azure's limit for retryCountOnTaskFailure


class NodeReader:
    """Reads the nodes of one pipeline file (`file` names it in errors)."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, node: Y, message: str) -> PipelineError:
        return PipelineError(node.file or self.file, node.line, node.column, message)

    def place(self, node: Y) -> Place:
        return Place(node.line, node.column, node.file if node.file != self.file else "")

    def mapping(self, node: Y, what: str, allowed: tuple[str, ...]) -> Y:
        if node.kind != "map":
            raise self.error(node, f"{what} must be a mapping")
        for key, _ in node.pairs():
            if key.text not in allowed:
                raise self.error(key, f"unknown key '{key.text}' in {what} "
                                      f"(allowed: {', '.join(allowed)})")
        return node

    def need(self, node: Y, key: str) -> Y:
        found = node.get(key)
        if found is None:
            raise self.error(node, f"'{key}' is missing")
        return found

    def text(self, node: Y, what: str) -> str:
        if node.kind != "scalar":
            raise self.error(node, f"{what} must be text")
        return "" if node.tag == "null" else node.text

    def boolean(self, node: Y | None, what: str, default: bool) -> bool:
        if node is None:
            return default
        value = self.text(node, what).strip().lower()
        if value not in ("true", "false"):
            raise self.error(node, f"{what} must be true or false, not '{node.text}'")
        return value == "true"

    def minutes(self, node: Y | None, what: str) -> float:
        if node is None:
            return 0.0
        try:
            value = float(self.text(node, what))
        except ValueError:
            raise self.error(node, f"{what} must be a number of minutes, "
                                   f"not '{node.text}'") from None
        if value < 0:
            raise self.error(node, f"{what} cannot be negative")
        return value

    def retries(self, node: Y | None) -> int:
        if node is None:
            return 0
        text = self.text(node, "'retryCountOnTaskFailure'")
        if not text.isdigit() or int(text) > MAX_RETRIES:
            raise self.error(node, f"'retryCountOnTaskFailure' must be a whole number from 0 "
                                   f"to {MAX_RETRIES}, not '{text}'")
        return int(text)

    def names(self, node: Y | None, what: str) -> tuple[str, ...] | None:
        if node is None:
            return None
        if node.kind == "scalar":
            return (node.text,) if node.text and node.tag != "null" else ()
        if node.kind == "seq":
            return tuple(self.text(item, what) for item in node.value)
        raise self.error(node, f"{what} must be a name or a list of names")

    def identifier(self, node: Y, what: str) -> str:
        name = self.text(node, what)
        if not IDENTIFIER.match(name):
            raise self.error(node, f"{what} '{name}' may hold only letters, digits and '_', "
                                   "and may not start with a digit")
        return name

    def condition(self, node: Y | None) -> Condition | None:
        if node is None:
            return None
        text = self.text(node, "condition")
        if text.strip().startswith("$[") or "${{" in text:
            raise self.error(node, "a condition is an expression without '$[ ]' or '${{ }}'")
        try:
            parsed = parse(text, names=("variables",))
        except ExpressionError as error:
            raise self.error(node, f"condition '{text}': {error}") from None
        return Condition(text, parsed, self.place(node))

    def key_node(self, node: Y, key: str) -> Y:
        if node.kind == "map":
            for name, _ in node.pairs():
                if name.text == key:
                    return name
        return node

    def check_graph(self, items: list[tuple[str, tuple[str, ...], Place]], what: str) -> None:
        names = {name.lower(): name for name, _, _ in items}
        if len(names) != len(items):
            seen: set[str] = set()
            for name, _, place in items:
                if name.lower() in seen:
                    raise PipelineError(place.file or self.file, place.line, place.column,
                                        f"{what} name '{name}' is used twice")
                seen.add(name.lower())
        for name, depends, place in items:
            for other in depends:
                if other.lower() not in names:
                    raise PipelineError(place.file or self.file, place.line, place.column,
                                        f"{what} '{name}' depends on unknown {what} '{other}'")
        graph = {name.lower(): [d.lower() for d in depends] for name, depends, _ in items}
        state: dict[str, int] = {}

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                ring = " -> ".join(names[n] for n in [*trail[trail.index(name):], name])
                place = next(p for n, _, p in items if n.lower() == name)
                raise PipelineError(place.file or self.file, place.line, place.column,
                                    f"the {what}s depend on each other in a loop: {ring}")
            state[name] = 1
            for other in graph[name]:
                visit(other, [*trail, name])
            state[name] = 2

        for name in graph:
            visit(name, [])

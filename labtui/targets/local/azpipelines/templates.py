"""Template expressions, resolved at compile time as Azure resolves them before a run:
`${{ parameters.x }}` and `${{ variables.x }}` in values and keys, and the directives
`${{ if … }}` / `${{ elseif … }}` / `${{ else }}` and `${{ each x in … }}` as mapping keys or
sequence items, whose content is merged into the place they stand."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from labtui.targets.local.azpipelines.errors import ExpressionError, PipelineError
from labtui.targets.local.azpipelines.expressions import (
    Context,
    Node,
    evaluate,
    parse,
    to_bool,
    to_string,
)
from labtui.targets.local.azpipelines.yamlnodes import Y, from_python, scalar

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
WHOLE = re.compile(r"^\s*\$\{\{(.*)\}\}\s*$", re.DOTALL)
DIRECTIVE = re.compile(r"^\$\{\{\s*(if|elseif|else|each)\b(.*?)\}\}$", re.DOTALL)
EACH = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+in\s+(.+)$", re.DOTALL)


Include = Callable[[Y, "Templates"], list[Y]]


class Templates:
    """Expands the template expressions of one file with the given names in scope; a list
    item `- template: FILE` (with its `parameters:`) is replaced by what `include` returns."""

    def __init__(self, file: str, names: Mapping[str, object],
                 include: Include | None = None) -> None:
        self.file = file
        self.names = dict(names)
        self.include = include

    def error(self, node: Y, message: str) -> PipelineError:
        return PipelineError(node.file or self.file, node.line, node.column, message)

    def compile(self, text: str, node: Y) -> Node:
        try:
            return parse(text.strip(), names=tuple(self.names), status_functions=False)
        except ExpressionError as error:
            raise self.error(node, f"template expression '${{{{{text}}}}}': {error}") from None

    def value(self, text: str, node: Y) -> object:
        try:
            return evaluate(self.compile(text, node), Context(self.names))
        except ExpressionError as error:
            raise self.error(node, f"template expression '${{{{{text}}}}}': {error}") from None

    def expand(self, node: Y) -> Y:
        if node.kind == "scalar":
            return self.scalar(node)
        if node.kind == "seq":
            return Y("seq", self.sequence(node), node.line, node.column, file=node.file)
        return Y("map", self.mapping(node), node.line, node.column, file=node.file)

    def scalar(self, node: Y) -> Y:
        if node.tag != "str" or "${{" not in node.text:
            return node
        whole = WHOLE.match(node.text)
        if whole and "${{" not in whole.group(1):
            return from_python(self.value(whole.group(1), node), node.line, node.column,
                               node.file)
        text = EXPRESSION.sub(lambda found: to_string(self.value(found.group(1), node)),
                              node.text)
        return scalar(text, node.line, node.column, file=node.file)

    def directive(self, key: Y) -> tuple[str, str] | None:
        if key.kind != "scalar":
            return None
        found = DIRECTIVE.match(key.text.strip())
        return (found.group(1), found.group(2).strip()) if found else None

    def branches(self, pairs: list[tuple[Y, Y]]) -> list[tuple[Y, Y, Templates]]:
        """Each pair with directives resolved: an ordinary pair as it is, the chosen branch of
        an if/elseif/else chain, and the body of each iteration of an each; with the scope
        (this one, or one with the loop's item) to expand it in."""
        out: list[tuple[Y, Y, Templates]] = []
        chain: bool | None = None  # None: no if before; True: a branch was taken
        for key, value in pairs:
            found = self.directive(key)
            if found is None:
                chain = None
                out.append((key, value, self))
                continue
            verb, rest = found
            if verb == "if":
                chain = to_bool(self.value(rest, key))
                if chain:
                    out.append((key, value, self))
            elif verb in ("elseif", "else"):
                if chain is None:
                    raise self.error(key, f"'${{{{ {verb} }}}}' without an '${{{{ if }}}}' "
                                          "before it")
                if verb == "else" and rest:
                    raise self.error(key, "'${{ else }}' takes no condition")
                if not chain and (verb == "else" or to_bool(self.value(rest, key))):
                    chain = True
                    out.append((key, value, self))
                if verb == "else":
                    chain = None
            else:
                chain = None
                out.extend(self.each(key, rest, value))
        return out

    def each(self, key: Y, rest: str, body: Y) -> list[tuple[Y, Y, Templates]]:
        found = EACH.match(rest)
        if not found:
            raise self.error(key, "'${{ each }}' is written '${{ each item in "
                                  "parameters.list }}'")
        name, source = found.group(1), found.group(2)
        collection = self.value(source, key)
        if isinstance(collection, dict):
            items: list[object] = [{"key": k, "value": v} for k, v in collection.items()]
        elif isinstance(collection, list):
            items = list(collection)
        else:
            raise self.error(key, f"'${{{{ each }}}}' needs a list or an object, and "
                                  f"'{source.strip()}' is {to_string(collection)!r}")
        return [(key, body, Templates(self.file, {**self.names, name: item}, self.include))
                for item in items]

    def mapping(self, node: Y) -> list[tuple[Y, Y]]:
        merged: list[tuple[Y, Y]] = []
        for key, value, scope in self.branches(list(node.pairs())):
            if self.directive(key) is not None:
                if value.kind != "map":
                    raise self.error(key, "a template directive inside a mapping must hold "
                                          "a mapping")
                merged.extend(scope.mapping(value))
                continue
            expanded_key = scope.scalar(key)
            if expanded_key.kind != "scalar":
                raise self.error(key, "a mapping key must be text")
            merged.append((expanded_key, scope.expand(value)))
        seen: set[str] = set()
        for key, _ in merged:
            if key.text in seen:
                raise self.error(key, f"'{key.text}' is already defined")
            seen.add(key.text)
        return merged

    def sequence(self, node: Y) -> list[Y]:
        """A list item whose keys are all directives is replaced by its content; an if chain
        runs across consecutive items (`- ${{ if }}:` then `- ${{ else }}:`)."""
        items: list[Y] = []
        pending: list[tuple[Y, Y]] = []

        def flush() -> None:
            for _, content, scope in self.branches(pending):
                expanded = scope.expand(content)
                if expanded.kind == "seq":
                    items.extend(expanded.value)
                else:
                    items.append(expanded)
            pending.clear()

        for item in node.value:
            if item.kind == "map" and item.value and all(
                    self.directive(key) for key, _ in item.pairs()):
                pending.extend(item.pairs())
                continue
            flush()
            if item.kind == "map" and item.get("template") is not None and \
                    set(item.key_names()) <= {"template", "parameters"} and self.include:
                items.extend(self.include(item, self))
                continue
            items.append(self.expand(item))
        flush()
        return items

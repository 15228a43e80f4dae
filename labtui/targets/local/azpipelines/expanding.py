"""Templates as Azure expands them: a file's (or a template's) `parameters` checked against
their declared types and filled in, and `- template:` items replaced by the template's
body, at most `MAX_TEMPLATE_DEPTH` deep."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from labtui.targets.local.azpipelines.errors import PipelineError
from labtui.targets.local.azpipelines.reader import NodeReader
from labtui.targets.local.azpipelines.templates import Templates
from labtui.targets.local.azpipelines.yamlnodes import Y, read, to_python

PARAMETER_TYPES = ("string", "number", "boolean", "object")
TEMPLATE_BODIES = ("steps", "jobs", "stages", "variables")
MAX_TEMPLATE_DEPTH = 20  # Azure's limit on templates including templates


class TemplateExpander(NodeReader):
    """Fills in parameters and expands the templates of one pipeline file; template paths
    start at `folder` (without one, templates are refused)."""

    def __init__(self, file: str, folder: Path | None = None) -> None:
        super().__init__(file)
        self.folder = folder  # where the pipeline file is: template paths start there
        self.depth = 0

    def parameters(self, node: Y | None, given: Mapping[str, object], *,
                   where: Y | None = None) -> dict[str, object]:
        values: dict[str, object] = {}
        declared: dict[str, Y] = {}
        if node is None:
            pass
        elif node.kind == "map":  # the older form: name: default
            for key, value in node.pairs():
                declared[key.text] = key
                values[key.text] = to_python(value)
        elif node.kind == "seq":
            for item in node.value:
                self.mapping(item, "a parameter", ("name", "displayName", "type", "default",
                                                   "values"))
                name_node = item.get("name")
                if name_node is None:
                    raise self.error(item, "a parameter needs 'name'")
                name = self.text(name_node, "a parameter's name")
                kind = self.text(item.get("type"), "type").lower() if item.get("type") \
                    else "string"
                if kind not in PARAMETER_TYPES:
                    raise self.error(item.get("type") or item,
                                     f"parameter type '{kind}' is outside the subset this "
                                     f"runner supports ({', '.join(PARAMETER_TYPES)})")
                values_node = item.get("values")
                choices = [self.shown(to_python(v)) for v in values_node.value] \
                    if values_node is not None and values_node.kind == "seq" else []
                declared[name] = name_node
                default = item.get("default")
                chosen: object
                if name in given:
                    chosen = self.parameter_value(name_node, name, kind, given[name])
                elif default is not None:
                    chosen = self.parameter_value(default, name, kind, to_python(default))
                else:
                    raise self.error(name_node, f"a value for the parameter '{name}' must be "
                                                "provided (it has no default)")
                if choices and self.shown(chosen) not in choices:
                    raise self.error(name_node, f"parameter '{name}' is '{self.shown(chosen)}',"
                                                f" not one of: {', '.join(choices)}")
                values[name] = chosen
        else:
            raise self.error(node, "'parameters' must be a list")
        for name, raw in given.items():
            if name not in declared:
                message = f"unexpected parameter '{name}' (the " \
                          f"{'template' if where else 'file'} declares: " \
                          f"{', '.join(declared) or 'none'})"
                if where is not None:
                    raise self.error(where, message)
                raise PipelineError(self.file, 0, 0, message)
            if node is not None and node.kind == "map":
                values[name] = raw
        return values

    def shown(self, value: object) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    def parameter_value(self, node: Y, name: str, kind: str, raw: object) -> object:
        if kind == "string":
            if isinstance(raw, dict | list):
                raise self.error(node, f"parameter '{name}' is a string, not a list or mapping")
            return self.shown(raw) if raw is not None else ""
        if kind == "number":
            try:
                return float(str(raw))
            except ValueError:
                raise self.error(node, f"parameter '{name}' must be a number, "
                                       f"not '{raw}'") from None
        if kind == "boolean":
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() not in ("true", "false"):
                raise self.error(node, f"parameter '{name}' must be true or false, "
                                       f"not '{raw}'")
            return str(raw).lower() == "true"
        if isinstance(raw, str):
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError:
                raise self.error(node, f"parameter '{name}' is not a YAML value") from None
        return raw

    def include(self, item: Y, scope: Templates) -> list[Y]:
        """The items of a template file, expanded with its parameters (Azure resolves the
        path from the file that names it; `/` starts at the pipeline file's folder)."""
        reference = self.need(item, "template")
        path_text = self.text(reference, "template")
        if "@" in path_text:
            raise self.error(reference, f"template '{path_text}': templates in other "
                                        "repositories are outside the subset")
        if self.folder is None:
            raise self.error(reference, "templates need the pipeline to be loaded from a file")
        including = Path(item.file) if item.file else Path(self.file)
        base = self.folder if path_text.startswith("/") or not item.file else including.parent
        path = (base / path_text.lstrip("/")).resolve()
        if self.depth >= MAX_TEMPLATE_DEPTH:
            raise self.error(reference, f"templates include each other more than "
                                        f"{MAX_TEMPLATE_DEPTH} levels deep")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise self.error(reference, f"template '{path_text}': cannot read {path} "
                                        f"({error.strerror})") from None
        name = str(path)
        root = read(text, name)
        if root.kind != "map":
            raise self.error(root, "a template file must be a mapping")
        bodies = [key for key in root.key_names() if key in TEMPLATE_BODIES]
        for key, _ in root.pairs():
            if key.text not in (*TEMPLATE_BODIES, "parameters"):
                raise self.error(key, f"unknown key '{key.text}' in a template (allowed: "
                                      f"parameters, {', '.join(TEMPLATE_BODIES)})")
        if len(bodies) != 1:
            raise self.error(root, "a template needs exactly one of: "
                                   + ", ".join(TEMPLATE_BODIES))
        given_node = item.get("parameters")
        given: dict[str, object] = {}
        if given_node is not None:
            expanded = scope.expand(given_node)
            if expanded.kind != "map":
                raise self.error(given_node, "a template's 'parameters' must be a mapping")
            given = {key.text: to_python(value) for key, value in expanded.pairs()}
        values = self.parameters(root.get("parameters"), given, where=given_node or item)
        names = {**scope.names, "parameters": values}
        body = root.get(bodies[0])
        assert body is not None
        if body.kind != "seq":
            raise self.error(body, f"'{bodies[0]}' must be a list")
        self.depth += 1
        try:
            return Templates(name, names, self.include).sequence(body)
        finally:
            self.depth -= 1

"""The code base stays lint-clean (ruff), strictly typed (mypy --strict on labtui/ and on the
lab's steps) and keeps its import rules (import-linter's contracts in pyproject.toml)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT


def test_ruff_is_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "labtui"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean_on_the_labs_steps() -> None:
    """scripts/typecheck shows mypy the steps under their installed name, labtui_steps."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "typecheck"),
                           "-p", "labtui_steps"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    checked = re.search(r"no issues found in (\d+) source files", done.stdout)
    assert checked, done.stdout
    assert int(checked[1]) >= len(list((ROOT / "steps").rglob("*.py"))), "every step module"


def test_the_import_contracts_hold() -> None:
    """labtui/ imports Textual only in labtui.app and a cloud or engine SDK only in a target's
    own package; the local target does not import the lab's steps (pyproject.toml)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


SDKS = {"azure", "databricks", "docker", "mlflow", "pyspark", "git", "sklearn", "pandas"}


def module_level_imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, module) of each import run when the module loads: not inside a function, and
    not under `if TYPE_CHECKING:`."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
        elif isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                pending.extend(node.body)
            pending.extend(node.orelse)
        elif isinstance(node, ast.ClassDef | ast.With | ast.Try):
            pending.extend(node.body)
            if isinstance(node, ast.Try):
                for handler in node.handlers:
                    pending.extend(handler.body)
                pending.extend(node.orelse + node.finalbody)


def test_sdks_are_imported_inside_the_functions_that_use_them() -> None:
    """Every command loads labtui's modules; an SDK costs up to a second to import."""
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in sorted((ROOT / "labtui").rglob("*.py"))
             for line, name in module_level_imports(ast.parse(path.read_bytes()))
             if name.partition(".")[0] in SDKS]
    assert not found, "\n".join(found)


def import_cycles(*packages: str) -> list[list[str]]:
    """Every set of modules that import each other in a ring (imports inside functions count:
    a lazy import hides a cycle from Python, not from the reader), largest first."""
    import grimp

    graph = grimp.build_graph(*packages, exclude_type_checking_imports=True, cache_dir=None)
    edges = {module: sorted(graph.find_modules_directly_imported_by(module))
             for module in sorted(graph.modules)}
    # Tarjan's strongly connected components.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in edges[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            ring = [stack.pop()]
            while ring[-1] != module:
                ring.append(stack.pop())
            if len(ring) > 1:
                cycles.append(sorted(ring))

    for module in edges:
        if module not in index:
            visit(module)
    return sorted(cycles, key=len, reverse=True)


def test_no_module_imports_itself_through_others() -> None:
    assert import_cycles("labtui", "labtui_steps") == []


def test_a_ring_closed_by_an_import_inside_a_function_is_a_cycle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "ringpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "front.py").write_text("from ringpkg.helpers import helper\n")
    (package / "helpers.py").write_text("def helper() -> None:\n"
                                        "    from ringpkg.front import main\n")
    (package / "alone.py").write_text("from ringpkg import helpers\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("ringpkg") == [["ringpkg.front", "ringpkg.helpers"]]


PROJECT_PACKAGES = ("labtui", "labtui_steps")


def dotted(node: ast.expr) -> str | None:
    """"labtui.cli" for the expression `labtui.cli`; None for anything but names and dots."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_names_used_across_modules(root: Path) -> list[str]:
    """`from <module> import _name`, and `<name>._name` where <name> was imported from another
    module of the project (under `root`): a private name is its own module's business."""
    found = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(root.parent)
        tree = ast.parse(path.read_bytes())
        imported: set[str] = set()  # the names imports of project modules bind here
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (
                    node.level or (node.module or "").partition(".")[0] in PROJECT_PACKAGES):
                found += [f"{where}:{node.lineno} imports {alias.name} from "
                          f"{'.' * node.level}{node.module or ''}" for alias in node.names
                          if is_private(alias.name)]
                imported |= {alias.asname or alias.name for alias in node.names}
            elif isinstance(node, ast.Import):
                imported |= {alias.asname or alias.name.partition(".")[0]
                             for alias in node.names
                             if alias.name.partition(".")[0] in PROJECT_PACKAGES}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and is_private(node.attr):
                base = dotted(node.value)
                if base is not None and base.partition(".")[0] in imported:
                    found.append(f"{where}:{node.lineno} uses {base}.{node.attr}")
    return found


def test_private_names_across_modules_are_found(tmp_path: Path) -> None:
    (tmp_path / "uses.py").write_text(
        "import labtui.cli\n"
        "from labtui import engine as core\n"
        "from labtui.state import Workspace, _env_key\n"
        "def f(self):\n"
        "    return labtui.cli._Parser, core._Journal, Workspace._tx, self._own\n")
    found = [line.partition(" ")[2] for line in private_names_used_across_modules(tmp_path)]
    assert found == ["imports _env_key from labtui.state", "uses labtui.cli._Parser",
                     "uses core._Journal", "uses Workspace._tx"]


def test_no_module_uses_another_modules_private_names() -> None:
    found = [line for folder in ("labtui", "steps")
             for line in private_names_used_across_modules(ROOT / folder)]
    assert not found, "\n".join(found)


def test_the_benches_import_what_exists() -> None:
    """`bench/` is run by hand, not by the tests: a module moved in a re-lay must not leave a
    bench importing it from where it was."""
    import ast
    import importlib

    problems = []
    for path in sorted((ROOT / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                    and node.module.split(".")[0] in ("labtui", "labtui_steps"):
                try:
                    module = importlib.import_module(node.module)
                except ImportError as exc:
                    problems.append(f"{path.name}:{node.lineno}: {exc}")
                    continue
                problems += [f"{path.name}:{node.lineno}: {node.module} has no {a.name}"
                             for a in node.names if not hasattr(module, a.name)
                             and not _is_submodule(node.module, a.name)]
    assert problems == []


def _is_submodule(package: str, name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"{package}.{name}") is not None

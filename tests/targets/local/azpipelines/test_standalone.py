"""The runner stands on its own: it imports the standard library, PyYAML and itself, nothing
else of labtui; and labtui's own command line does not load it."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import ROOT

PACKAGE = ROOT / "labtui" / "targets" / "local" / "azpipelines"


def test_it_imports_only_the_standard_library_yaml_and_itself() -> None:
    outside = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_bytes())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""] if isinstance(node, ast.ImportFrom) and not \
                node.level else []
            for name in names:
                top = name.partition(".")[0]
                if name.startswith("labtui.targets.local.azpipelines") or top == "yaml" or \
                        top in sys.stdlib_module_names or top == "__future__":
                    continue
                outside.append(f"{path.name}:{node.lineno} imports {name}")
    assert outside == []


def test_labtui_help_does_not_load_it() -> None:
    code = ("import sys, contextlib, io\n"
            "from labtui.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
            "print([m for m in sys.modules if 'azpipelines' in m or m == 'yaml'])\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_package_is_in_the_wheel() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "labtui.targets.local.azpipelines" in config["tool"]["setuptools"]["packages"]
    assert any(dep.lower().startswith("pyyaml") for dep in config["project"]["dependencies"])

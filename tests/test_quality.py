"""The code base stays lint-clean (ruff), strictly typed (mypy --strict on labtui/ and on the
lab's steps) and keeps its import rules (import-linter's contracts in pyproject.toml)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import ROOT


def test_ruff_is_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "labtui"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def installed_names(folder: Path) -> Path:
    """`folder` holding a link named after each package whose source folder has another name
    (`labtui_steps` is `steps/`, `labtui_assets` is `assets/`, as pyproject.toml maps them).

    The steps import each other and the assets by their installed names; an editable install
    finds them through an import hook, which mypy does not follow. Given this folder as
    MYPYPATH, mypy checks the files in place under the names the code uses."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for name, source in mapping["tool"]["setuptools"]["package-dir"].items():
        if name != source:
            (folder / name).symlink_to(ROOT / source, target_is_directory=True)
    return folder


def test_mypy_strict_is_clean_on_the_labs_steps(tmp_path: Path) -> None:
    env = {**os.environ, "MYPYPATH": str(installed_names(tmp_path))}
    done = subprocess.run([sys.executable, "-m", "mypy", "-p", "labtui_steps"], cwd=ROOT,
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_import_contracts_hold() -> None:
    """labtui/ imports Textual only in labtui.app and a cloud or engine SDK only in a target's
    own package; the local target does not import the lab's steps (pyproject.toml)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout

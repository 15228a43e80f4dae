"""write-test runs the attendee's tests with labtui's own pytest, in a clean child process, and
a failing test says what pytest said about it."""

from __future__ import annotations

import ast
import shutil
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import labtui_assets
import pytest
from labtui_steps.devloop.common import TESTS_FOLDER
from labtui_steps.devloop.write_test import REFERENCE_TEST
from labtui_steps.unit_tests import run_unit_tests

ROOT = Path(__file__).resolve().parents[2]
BROKEN_TEST = '''

def test_estimate_is_a_string():
    from inference_code.model_class import MyModel

    model = MyModel()
    model.init()
    estimate = model.score('{"age": 37, "hours-per-week": 40.0}')["estimated_wages"]
    assert isinstance(estimate, str), "the estimate should be text"
'''


def _model_files(folder: Path) -> Path:
    """The three files the notebook writes, fitted the same way on a few census rows."""
    import pickle

    import numpy as np
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import StandardScaler

    x = np.array([[39, 40], [50, 13], [38, 40], [53, 40], [28, 40], [37, 40]], dtype=float)
    y = np.array([77516, 83311, 215646, 234721, 338409, 284582], dtype=float)
    x_scaler, y_scaler = StandardScaler().fit(x), StandardScaler().fit(y.reshape(-1, 1))
    model = LinearRegression().fit(x_scaler.transform(x), y_scaler.transform(y.reshape(-1, 1)))
    folder.mkdir(parents=True)
    for name, value in (("x_scaler.pkl", x_scaler), ("model.pkl", model),
                        ("y_scaler.pkl", y_scaler)):
        with open(folder / name, "wb") as handle:
            pickle.dump(value, handle)
    return folder


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """An attendee's working copy: Project_One and Project_One-Tests as seed-repo pushes them."""
    for name in ("Project_One", TESTS_FOLDER):
        shutil.copytree(labtui_assets.root() / name, tmp_path / "repo" / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "repo"


def _run(copy: Path, tmp_path: Path, extra: str) -> object:
    tests = copy / TESTS_FOLDER
    (tests / "test_model.py").write_text((tests / "test_model.py").read_text() + extra)
    return run_unit_tests(tests, copy / "Project_One", _model_files(tmp_path / "model"),
                          tmp_path / "results" / "junit.xml")


def test_the_reference_test_passes_against_real_model_files(
        copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever the caller's environment says, the child runs clean.
    monkeypatch.setenv("PYTEST_ADDOPTS", "--no-such-option-anywhere")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "elsewhere"))
    ran = _run(copy, tmp_path, REFERENCE_TEST)
    assert ran.ok, ran.output  # type: ignore[attr-defined]
    assert ran.explanation().startswith("2 tests: 2 passed")  # type: ignore[attr-defined]
    assert (tmp_path / "results" / "junit.xml").is_file()


def test_a_failing_test_shows_the_assert_and_pytests_E_lines(copy: Path,
                                                             tmp_path: Path) -> None:
    ran = _run(copy, tmp_path, BROKEN_TEST)
    assert not ran.ok  # type: ignore[attr-defined]
    message = ran.explanation()  # type: ignore[attr-defined]
    assert message.startswith("1 of 2 tests failed: test_estimate_is_a_string (test_model.py:")
    assert 'assert isinstance(estimate, str), "the estimate should be text" →' in message
    assert "E AssertionError: the estimate should be text" in message
    assert "E assert False" in message
    assert "\n" not in message
    output = "\n".join(ran.output)  # type: ignore[attr-defined]
    assert "E       assert False" in output or "E   assert False" in output
    assert "1 failed, 1 passed" in output


def test_a_test_file_that_does_not_import_says_so(copy: Path, tmp_path: Path) -> None:
    ran = _run(copy, tmp_path, "\nimport no_such_module_anywhere\n")
    assert not ran.ok  # type: ignore[attr-defined]
    assert "No module named 'no_such_module_anywhere'" in ran.explanation()  # type: ignore[attr-defined]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_what_the_tests_need_is_a_declared_dependency_of_labtui() -> None:
    """`pip install .` alone must bring everything write-test's run imports: pytest, the
    inference code's imports, and scikit-learn, which unpickling the model needs."""
    assets = labtui_assets.root()
    sources = [*(assets / TESTS_FOLDER).glob("*.py"),
               *(assets / "Project_One" / "inference_code").glob("*.py")]
    modules = set().union(*(_imports(path) for path in sources)) | {"pytest", "sklearn"}
    modules -= set(sys.stdlib_module_names) | {"inference_code"}
    providers = packages_distributions()
    needed = {providers[module][0].lower() for module in modules}
    declared = {requirement.split(">")[0].split("=")[0].split("<")[0].strip().lower()
                for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())
                ["project"]["dependencies"]}
    assert needed <= declared, f"not declared: {sorted(needed - declared)}"

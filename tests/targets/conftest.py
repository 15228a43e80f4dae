"""The demo target distribution (tests/plugins/labtui-demo-target), installed as a user would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, LabtuiRunner, labtui_env

DEMO_TARGET = ROOT / "tests" / "plugins" / "labtui-demo-target"


@pytest.fixture(scope="session")
def demo_target_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo target distribution, pip-installed into a private folder (not the venv)."""
    folder = tmp_path_factory.mktemp("demo-target")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(folder), str(DEMO_TARGET)],
        check=True, capture_output=True, text=True,
    )
    return folder


@pytest.fixture
def demo_target(demo_target_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Makes the demo target visible to this process (entry points scan sys.path)."""
    monkeypatch.syspath_prepend(str(demo_target_path))
    yield demo_target_path
    for name in [m for m in sys.modules if m.startswith("labtui_demo_target")]:
        del sys.modules[name]


@pytest.fixture
def with_demo_target(tmp_path: Path, demo_target_path: Path) -> LabtuiRunner:
    """`labtui` as a subprocess with the demo target installed and a fresh workspace."""
    home = tmp_path / "home"
    home.mkdir()
    env = labtui_env([demo_target_path], HOME=str(home),
                     DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"), COLUMNS="200")
    return LabtuiRunner(tmp_path / "ws", env)

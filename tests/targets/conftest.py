"""The demo target distribution (tests/plugins/labtui-demo-target), installed as a user would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, LabtuiRunner, install_plugin, labtui_env, plugin_on_path

DEMO_TARGET = ROOT / "tests" / "plugins" / "labtui-demo-target"


@pytest.fixture(scope="session")
def demo_target_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo target distribution, pip-installed into a private folder (not the venv)."""
    return install_plugin(DEMO_TARGET, tmp_path_factory.mktemp("demo-target"))


@pytest.fixture
def demo_target(demo_target_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Makes the demo target visible to this process."""
    yield from plugin_on_path(demo_target_path, "labtui_demo_target", monkeypatch)


@pytest.fixture
def with_demo_target(tmp_path: Path, demo_target_path: Path) -> LabtuiRunner:
    """`labtui` as a subprocess with the demo target installed and a fresh workspace."""
    home = tmp_path / "home"
    home.mkdir()
    env = labtui_env([demo_target_path], HOME=str(home),
                     DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"), COLUMNS="200")
    return LabtuiRunner(tmp_path / "ws", env)

"""Shared fixtures: the demo step plugin, a labtui subprocess runner, and `require`.

`require(ok, reason)` skips a test whose real dependency (a Docker engine, Java …) is missing on
a user's machine, but fails it in CI (CI=true), so a broken CI set-up cannot hide behind skips.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO_PLUGIN = ROOT / "tests" / "plugins" / "labtui-demo-steps"
LAB_DATA = ROOT / "tests" / "data" / "AdultCensusIncome.csv"
"""The lab's data set, carried in the repository (tests/data/README.md says where it is from)."""


def require_lab_data() -> Path:
    """The lab's data set; it is part of the repository, so a missing one is a broken clone."""
    assert LAB_DATA.is_file(), f"the lab's data set is missing from the clone: {LAB_DATA}"
    return LAB_DATA


BASE_IMAGE = os.environ.get("LABTUI_TEST_BASE_IMAGE", "labtui/python:3.11-bookworm")


@pytest.fixture
def containers() -> Any:
    """The Docker engine through labtui's Containers port, with the base image the lab's
    images are built on (required: skipped on a user's machine without them, failed in CI)."""
    from labtui.targets.base import NotFound, TargetError
    from labtui.targets.local.containers import DockerContainers

    engine = DockerContainers()
    try:
        engine.ping()
    except TargetError as exc:
        require(False, str(exc))
    try:
        engine.image(BASE_IMAGE)
    except NotFound:
        require(False, f"base image {BASE_IMAGE} is missing: run scripts/build-base-image.sh")
    return engine


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(ok: bool, reason: str) -> None:
    """Skip (on a user's machine) or fail (in CI) when a real dependency is missing."""
    if ok:
        return
    if in_ci():
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: every test must run on a fresh machine."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    if in_ci() and skipped and exitstatus == 0:
        print(f"\nCI: {skipped} test(s) skipped; in CI every test must run")
        session.exitstatus = 1


@pytest.fixture(scope="session", autouse=True)
def _private_databricks_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test may touch the user's own ~/.databrickscfg: point the tools at a scratch file."""
    previous = os.environ.get("DATABRICKS_CONFIG_FILE")
    folder = tmp_path_factory.mktemp("databricks-config")
    os.environ["DATABRICKS_CONFIG_FILE"] = str(folder / ".databrickscfg")
    yield
    if previous is None:
        os.environ.pop("DATABRICKS_CONFIG_FILE", None)
    else:
        os.environ["DATABRICKS_CONFIG_FILE"] = previous


def install_plugin(source: Path, target: Path) -> Path:
    """pip-install the distribution at `source` into the private folder `target` (not the
    venv), as a user would install a plugin; the folder is returned."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True, text=True,
    )
    return target


def plugin_on_path(folder: Path, package: str,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the plugin installed in `folder` visible to this process (entry points scan
    sys.path) for one test; its modules are forgotten afterwards."""
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for name in [m for m in sys.modules if m.startswith(package)]:
        del sys.modules[name]


@pytest.fixture(scope="session")
def demo_plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo step distribution, pip-installed into a private folder (not the venv)."""
    return install_plugin(DEMO_PLUGIN, tmp_path_factory.mktemp("demo-plugin"))


@pytest.fixture
def demo_plugin(demo_plugin_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Makes the demo plugin visible to this process."""
    yield from plugin_on_path(demo_plugin_path, "labtui_demo_steps", monkeypatch)


@dataclass
class Ran:
    """A finished labtui subprocess."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class LabtuiRunner:
    """Runs `python -m labtui` in a subprocess against one workspace."""

    workspace: Path
    env: dict[str, str]

    def __call__(self, *args: str, extra_env: dict[str, str] | None = None,
                 timeout: float = 300) -> Ran:
        env = {**self.env, **(extra_env or {})}
        done = subprocess.run(
            [sys.executable, "-m", "labtui", *args, "--workspace", str(self.workspace)],
            capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL,
        )
        return Ran(done.returncode, done.stdout, done.stderr)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "labtui", *args, "--workspace", str(self.workspace)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env,
            stdin=subprocess.DEVNULL,
        )


def labtui_env(pythonpath: Sequence[Path] = (), **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABTUI_")}
    paths = [str(p) for p in pythonpath]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    return env


@pytest.fixture
def labtui(tmp_path: Path, demo_plugin_path: Path) -> LabtuiRunner:
    """`labtui` as a subprocess with the demo plugin installed and a fresh workspace."""
    home = tmp_path / "home"
    home.mkdir()
    env = labtui_env([demo_plugin_path], HOME=str(home),
                     DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"), COLUMNS="200")
    return LabtuiRunner(tmp_path / "ws", env)

"""Proctor fixtures: rosters of attendees over the demo plugin, and a `labtui proctor` runner.

In-process tests build a `Fleet` over a catalogue of the demo steps only (fast, and nothing
else installed can change what a reset does); subprocess tests run the real command with every
installed step.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from labtui.catalog import Catalog
from labtui.masking import Masker
from labtui.proctor.events import FleetEvent
from labtui.proctor.fleet import Fleet, FleetOptions
from labtui.proctor.roster import Roster, load_roster
from tests.conftest import Ran, labtui_env

E = TypeVar("E", bound=FleetEvent)


def write_roster(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    path.write_text("\n".join(",".join(cells) for cells in [header, *rows]) + "\n")
    return path


@dataclass
class Room:
    """A roster of attendees, each with a workspace and a demo folder under `root`."""

    root: Path
    roster_path: Path
    catalog: Catalog
    environ: dict[str, str]

    @property
    def ids(self) -> list[str]:
        return [attendee.id for attendee in self.roster()]

    def roster(self) -> Roster:
        return load_roster(self.roster_path, self.catalog.fields(), self.environ)

    def workspace(self, attendee: str) -> Path:
        return self.root / "ws" / attendee

    def files(self, attendee: str) -> Path:
        return self.root / "files" / attendee

    def fleet(self, **options: object) -> Fleet:
        settings: dict[str, object] = {"environ": self.environ, "backoff": 0.0}
        settings.update(options)
        return Fleet(self.roster(), FleetOptions(**settings),  # type: ignore[arg-type]
                     catalog=self.catalog, masker=Masker())


class Recorder:
    """A thread-safe fleet listener that keeps every event."""

    def __init__(self) -> None:
        import threading

        self.events: list[FleetEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: FleetEvent) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]


@pytest.fixture
def demo_catalog(demo_plugin: Path) -> Catalog:
    import labtui_demo_steps as demo  # type: ignore[import-not-found]

    return Catalog([demo.DemoFiles, demo.DemoPerEnv, demo.DemoCanary])


@pytest.fixture
def make_room(tmp_path: Path, demo_catalog: Catalog) -> Callable[..., Room]:
    """`make_room(n)`: a CSV roster of n attendees (a1 … an) over the demo steps, each with
    their own demo-dir and a canary secret held in an environment variable."""

    def make(count: int, *, catalog: Catalog | None = None, name: str = "roster.csv") -> Room:
        environ = {f"A{i}_SECRET": f"canary-secret-of-a{i}-{i * 7919}" for i in
                   range(1, count + 1)}
        rows = [[f"a{i}", f"contoso{i}", f"ws/a{i}", str(tmp_path / "files" / f"a{i}"),
                 f"A{i}_SECRET"] for i in range(1, count + 1)]
        path = write_roster(tmp_path / name,
                            ["attendee", "prefix", "workspace", "demo-dir", "demo-secret"], rows)
        return Room(tmp_path, path, catalog or demo_catalog, environ)

    return make


@pytest.fixture
def proctor(tmp_path: Path, demo_plugin_path: Path) -> Callable[..., Ran]:
    """`labtui proctor …` in a subprocess, with the demo plugin installed, run in tmp_path."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    base = labtui_env([demo_plugin_path], HOME=str(home), COLUMNS="200",
                      DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"))

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Ran:
        done = subprocess.run([sys.executable, "-m", "labtui", "proctor", *args],
                              capture_output=True, text=True, env={**base, **(env or {})},
                              cwd=tmp_path, timeout=timeout, stdin=subprocess.DEVNULL)
        return Ran(done.returncode, done.stdout, done.stderr)

    return run

"""Fixtures for the app's tests: in-test steps (reports, metrics, a step that waits to be
cancelled) next to the demo plugin's, and a factory for the app on a fresh workspace.

Tests use their own catalogue, so the lab's real steps (whatever is installed) never change
what they see; the workspace path is relative ("ws") so snapshots do not depend on tmp_path.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labtui.app.app import LabApp, build_app
from labtui.catalog import Catalog
from labtui.session import SessionOptions
from labtui.step import Check, Field, JournalEntry, Step, StepContext, Verdict
from steps.fields import DATA_FILE, LOCATION

FIXTURES = Path(__file__).parent / "fixtures"


class TestImage(Step):
    """Like the lab's test-image: leaves JUnit and Cobertura files in its artifacts."""

    __test__ = False
    id = "test-image"
    title = "Test the inference image"
    section = "Dev loop"
    summary = "Runs the tests inside the image and collects JUnit and coverage."

    def run(self, ctx: StepContext) -> None:
        for name in ("junit.xml", "coverage.xml"):
            shutil.copy(FIXTURES / name, ctx.artifacts / name)
        ctx.log("pytest: 1 failed, 4 passed, 1 skipped")

    def verify(self, ctx: StepContext) -> Verdict:
        present = (ctx.artifacts / "junit.xml").exists()
        return Verdict.of(Check("results", present, "reports collected" if present else
                                "no JUnit file", "run the step"))


class TrainModel(Step):
    """Like the lab's train-model: leaves metrics.json in its artifacts."""

    id = "train-model"
    title = "Train the model"
    section = "Dev loop"
    summary = "Trains the world's worst regression and registers it."

    def run(self, ctx: StepContext) -> None:
        actual = [float(x) for x in range(20, 70, 2)]
        predicted = [40.0 + (x % 7) * 3 for x in range(len(actual))]
        (ctx.artifacts / "metrics.json").write_text(json.dumps(
            {"mae": 12.345, "r2": 0.021, "predicted": predicted, "actual": actual}))

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("metrics", (ctx.artifacts / "metrics.json").exists()))


WAITING = threading.Event()
"""Set by `Waiter.run` once it is running, so a test knows when to cancel."""


class Waiter(Step):
    """Logs a line, then waits until cancelled (a long cloud call, cooperatively stopped)."""

    id = "waiter"
    title = "Wait for a long operation"
    section = "Dev loop"
    inputs = (Field("waiter-token", "Token", kind="secret", required=False),)

    def run(self, ctx: StepContext) -> None:
        ctx.journal.record("marker", "waiter-started")
        ctx.log("waiting for the operation")
        WAITING.set()
        while not ctx.cancelled.wait(0.02):
            pass
        ctx.check_cancelled()

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("finished", False, "not finished", "run it"))

    def undo(self, ctx: StepContext, entry: JournalEntry) -> None:
        return None


class WriteNote(Step):
    """A manual step like the lab's write-test: the attendee writes a test in a file whose
    path verify publishes as the output `test-file`; solve writes a reference test."""

    id = "write-note"
    title = "Write a test of your own"
    section = "Dev loop"
    manual = True
    requires = ("train-model",)
    summary = "Add a function named test_… to the file, then verify."

    def run(self, ctx: StepContext) -> None:
        ctx.log(f"This step is yours: write a test in {self._file(ctx)}, then verify.")

    def _file(self, ctx: StepContext) -> Path:
        return ctx.artifacts / "test_note.py"

    def verify(self, ctx: StepContext) -> Verdict:
        path = self._file(ctx)
        ctx.outputs.set("test-file", str(path.resolve()))
        written = path.is_file() and "def test_" in path.read_text(encoding="utf-8")
        return Verdict.of(Check("test written", written, "" if written else "no test yet",
                                f"add a function named test_… to {path}"))

    def solve(self, ctx: StepContext) -> None:
        self._file(ctx).write_text("def test_reference():\n    assert 1 + 1 == 2\n",
                                   encoding="utf-8")


class PlaceData(Step):
    """Takes the lab's own location and data-file inputs (their rules are checked as typed)."""

    id = "place-data"
    title = "Place the data"
    section = "Dev loop"
    inputs = (LOCATION, DATA_FILE)

    def run(self, ctx: StepContext) -> None:
        ctx.log(f"data in {ctx.value('location')}")

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("placed", False, "not placed"))


AppFactory = Callable[..., LabApp]


@pytest.fixture
def lab_catalog(demo_plugin: Path) -> Catalog:
    from labtui_demo_steps import DemoCanary, DemoFiles, DemoPerEnv

    return Catalog([DemoFiles, DemoPerEnv, DemoCanary, TrainModel, TestImage, Waiter])


@pytest.fixture
def room_catalog(lab_catalog: Catalog) -> Catalog:
    """The test catalogue with a manual step and the lab's location and data-file inputs."""
    return Catalog([*(type(step) for step in lab_catalog), WriteNote, PlaceData])


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             lab_catalog: Catalog) -> Iterator[AppFactory]:
    """Builds the app on `tmp_path/ws` (shown as "ws"); closes every lab it opened."""
    monkeypatch.chdir(tmp_path)
    WAITING.clear()
    opened: list[LabApp] = []

    def factory(*, focus: str | None = None, heartbeat: float = 30.0,
                environ: dict[str, str] | None = None,
                catalog: Catalog | None = None) -> LabApp:
        options = SessionOptions(workspace=Path("ws"), environ=environ or {},
                                 heartbeat_after=heartbeat, command="labtui (test)")
        app = build_app(options, focus=focus, catalog=catalog or lab_catalog,
                        theme="textual-dark")
        opened.append(app)
        return app

    yield factory
    for app in opened:
        app.lab.close()

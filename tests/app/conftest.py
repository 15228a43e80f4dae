"""Fixtures for the app's tests: the lab's train-model and test-image with their slow parts
(Spark, Docker) replaced by what a real run produced, in-test steps (a principal, a step that
waits to be cancelled) next to the demo plugin's, and a factory for the app on a fresh
workspace.

Tests use their own catalogue, so the lab's real steps (whatever is installed) never change
what they see; the workspace path is relative ("ws") so snapshots do not depend on tmp_path.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from labtui_steps import devloop
from labtui_steps.devloop.train_model import metrics_check
from labtui_steps.infrastructure import records

from labtui.app.app import LabApp, build_app
from labtui.catalog import Catalog
from labtui.journal import Record
from labtui.session import SessionOptions
from labtui.step import Check, Field, Step, StepContext, Verdict
from steps.fields import DATA_FILE, LOCATION

FIXTURES = Path(__file__).parent / "fixtures"


CAPTURED = FIXTURES / "devloop"
"""What the real dev loop left in a workspace's artifacts (README.md there says how)."""


class TestImage(devloop.TestImage):
    """The lab's test-image without Docker: `run` puts a results folder a real container run
    produced where the real step copies the container's results, then hands it to the real
    step's masking and reporting, which publish the reports exactly as after a real run (and
    fail the step when a test failed). `results` is the folder it takes."""

    place = 0  # these tests list their Dev loop in the order this module defines it

    __test__ = False
    title = "Test the inference image"
    summary = "Runs the tests inside the image and collects JUnit and coverage."
    requires = ()
    inputs = ()
    environment = None
    results: ClassVar[Path] = CAPTURED / "test-image-dev" / "test_results"

    def run(self, ctx: StepContext) -> None:
        results = ctx.artifacts / "test_results"
        if results.exists():
            shutil.rmtree(results)
        shutil.copytree(self.results, results)
        self._mask(ctx, results)
        self._report(ctx, results, 0)

    def verify(self, ctx: StepContext) -> Verdict:
        from labtui.reports import TestReport

        junit = ctx.artifacts / "test_results" / "junit.xml"
        if not junit.exists():
            return Verdict.of(Check("test results", False, "the tests have not run yet",
                                    "run this step"))
        report = TestReport.load(junit)
        return Verdict.of(Check("tests pass", report.ok, report.summary))

    plan = Step.plan  # the real plan asks Docker and the registry; this stand-in has neither
    forced_plan = Step.forced_plan


class TrainModel(devloop.TrainModel):
    """The lab's train-model without Spark: `run` keeps the metrics.json a real training run
    wrote and publishes it as the real step does; verify is the real step's metrics check."""

    place = 0  # as TestImage

    title = "Train the model"
    summary = "Trains the world's worst regression and registers it."
    requires = ()
    inputs = ()
    environment = None

    def run(self, ctx: StepContext) -> None:
        metrics = ctx.artifacts / "metrics.json"
        shutil.copy(CAPTURED / "train-model-dev" / "metrics.json", metrics)
        version = json.loads(metrics.read_text())["model"]["version"]
        ctx.outputs.set("model-version", str(version))
        ctx.publish("metrics", metrics)

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(metrics_check(ctx.artifacts / "metrics.json"))

    plan = Step.plan  # the real plan reads the working copy and the registry
    forced_plan = Step.forced_plan


class Principal(Step):
    """Creates something and hands on an id and a password, as service-principal does."""

    id = "principal"
    title = "Create a principal"
    section = "Dev loop"
    environment = "dev"
    APP_ID: ClassVar[str] = "3f2a9c1e-7b44-4d0e-9a51-0c6d2e8f1b27"
    PASSWORD: ClassVar[str] = "Pw~8rT2q-secret-value-KX91"

    def run(self, ctx: StepContext) -> None:
        ctx.journal.record(records.ServicePrincipal("principal-dev"))
        ctx.outputs.set("sp-app-id", self.APP_ID)
        ctx.outputs.set("sp-password", ctx.secret(self.PASSWORD), secret=True)
        ctx.log(f"created principal-dev with password {self.PASSWORD}")

    def verify(self, ctx: StepContext) -> Verdict:
        made = ctx.outputs.get("sp-app-id") is not None
        return Verdict.of(Check("principal", made, "created" if made else "missing"))


@dataclass(frozen=True)
class Marker(Record):
    """A marker that a run got going; there is nothing to remove."""

    kind = "test-marker"
    name: str

    def undo(self, ctx: StepContext) -> None:
        return None


WAITING = threading.Event()
"""Set by `Waiter.run` once it is running, so a test knows when to cancel."""


class Waiter(Step):
    """Logs a line, then waits until cancelled (a long cloud call, cooperatively stopped)."""

    id = "waiter"
    title = "Wait for a long operation"
    section = "Dev loop"
    inputs = (Field("waiter-token", "Token", kind="secret", required=False),)

    def run(self, ctx: StepContext) -> None:
        ctx.journal.record(Marker("waiter-started"))
        ctx.log("waiting for the operation")
        WAITING.set()
        while not ctx.cancelled.wait(0.02):
            pass
        ctx.check_cancelled()

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("finished", False, "not finished", "run it"))


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
                environ: dict[str, str] | None = None, catalog: Catalog | None = None) -> LabApp:
        options = SessionOptions(workspace=Path("ws"), environ=environ or {},
                                 heartbeat_after=heartbeat, command="labtui (test)")
        app = build_app(options, focus=focus, catalog=catalog or lab_catalog,
                        theme="textual-dark")
        opened.append(app)
        return app

    yield factory
    for app in opened:
        app.lab.close()

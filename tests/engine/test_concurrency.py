"""Units that do not depend on each other run, verify and roll back at once; a unit waits for
what it needs, a failure stops only what needs it, and a cancel leaves a workspace that rolls
back. The steps meet at barriers: two hooks that did not overlap would time out there."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from labtui.catalog import Catalog
from labtui.engine import Outcome
from labtui.events import Event, StepFinished, StepStarted
from labtui.session import Session, SessionOptions
from labtui.step import Check, Field, Step, StepContext, StepError, Verdict

FOLDER = Field("demo-dir", "Demo folder", kind="path")
MEET_TIMEOUT = 20.0


class Meeting:
    """Where the test's hooks wait for each other (a barrier per hook name)."""

    barriers: ClassVar[dict[str, threading.Barrier]] = {}
    block_until_cancelled: ClassVar[set[str]] = set()
    started: ClassVar[dict[str, threading.Event]] = {}

    @classmethod
    def meet(cls, hook: str) -> None:
        barrier = cls.barriers.get(hook)
        if barrier is not None:
            barrier.wait(MEET_TIMEOUT)  # BrokenBarrierError: the other never came


class FileStep(Step):
    """Writes `<demo-dir>/<id>.txt` through the journal."""

    section = "Demo"
    inputs = (FOLDER,)
    title = "write a file"

    def path(self, ctx: StepContext) -> Path:
        return Path(ctx.value("demo-dir")) / f"{self.id}.txt"

    def run(self, ctx: StepContext) -> None:
        from labtui_demo_steps.records import DemoFile

        ctx.journal.record(DemoFile(str(self.path(ctx))))
        self.path(ctx).parent.mkdir(parents=True, exist_ok=True)
        self.path(ctx).write_text(self.id)
        Meeting.started.setdefault(self.id, threading.Event()).set()
        if self.id in Meeting.block_until_cancelled:
            ctx.cancelled.wait(MEET_TIMEOUT)
            ctx.check_cancelled()
        Meeting.meet(f"run {self.id}")

    def verify(self, ctx: StepContext) -> Verdict:
        Meeting.meet(f"verify {self.id}")
        return Verdict.of(Check("file", self.path(ctx).exists(), "the file"))

    def rollback(self, ctx: StepContext) -> None:
        Meeting.meet(f"rollback {self.id}")
        super().rollback(ctx)


class Left(FileStep):
    id = "left"


class Right(FileStep):
    id = "right"


class Joined(FileStep):
    id = "joined"
    requires = ("left", "right")


class Broken(FileStep):
    id = "broken"

    def run(self, ctx: StepContext) -> None:
        raise StepError("broken on purpose")


class AfterBroken(FileStep):
    id = "after-broken"
    requires = ("broken",)


@pytest.fixture(autouse=True)
def _meeting() -> Iterator[None]:
    yield
    Meeting.barriers.clear()
    Meeting.block_until_cancelled.clear()
    Meeting.started.clear()


def _both_meet(*hooks: str) -> None:
    barrier = threading.Barrier(len(hooks))
    for hook in hooks:
        Meeting.barriers[hook] = barrier


class Events:
    def __init__(self) -> None:
        self.seen: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.seen.append(event)

    def index(self, kind: type[StepStarted | StepFinished], step: str, action: str) -> int:
        return next(i for i, e in enumerate(self.seen) if isinstance(e, kind)
                    and e.step == step and e.action == action)


def _session(tmp_path: Path, steps: list[type[Step]], events: Events | None = None,
             parallel: int | None = None) -> Session:
    options = SessionOptions(workspace=tmp_path / "ws", environ={}, parallel=parallel,
                             set_values=(f"demo-dir={tmp_path / 'files'}",))
    return Session(options, catalog=Catalog(steps), listeners=[events] if events else [])


def test_independent_units_run_at_once_and_a_dependant_waits_for_both(
        demo_plugin: Path, tmp_path: Path) -> None:
    _both_meet("run left", "run right")
    events = Events()
    with _session(tmp_path, [Left, Right, Joined], events) as session:
        results = session.engine.run(session.catalog.units())
    assert [(r.unit.id, r.outcome) for r in results] == [
        ("left", Outcome.DONE), ("right", Outcome.DONE), ("joined", Outcome.DONE)]
    joined_starts = events.index(StepStarted, "joined", "run")
    assert joined_starts > events.index(StepFinished, "left", "run")
    assert joined_starts > events.index(StepFinished, "right", "run")
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == [
        "joined.txt", "left.txt", "right.txt"]


def test_verify_and_rollback_of_independent_units_overlap_and_a_requirement_goes_last(
        demo_plugin: Path, tmp_path: Path) -> None:
    events = Events()
    with _session(tmp_path, [Left, Right, Joined], events) as session:
        engine = session.engine
        units = session.catalog.units()
        engine.run(units)
        _both_meet("verify left", "verify right")
        assert [r.outcome for r in engine.verify(units)] == [Outcome.DONE] * 3
        Meeting.barriers.clear()
        _both_meet("rollback left", "rollback right")
        results = engine.rollback(units)
    assert [(r.unit.id, r.outcome) for r in results] == [
        ("joined", Outcome.ROLLED_BACK), ("right", Outcome.ROLLED_BACK),
        ("left", Outcome.ROLLED_BACK)], "the summary keeps the rollback order"
    joined_done = events.index(StepFinished, "joined", "rollback")
    assert events.index(StepStarted, "left", "rollback") > joined_done
    assert events.index(StepStarted, "right", "rollback") > joined_done
    assert list((tmp_path / "files").iterdir()) == []


def test_a_failure_stops_its_dependants_only_and_the_other_branch_finishes(
        demo_plugin: Path, tmp_path: Path) -> None:
    with _session(tmp_path, [Broken, AfterBroken, Left], parallel=4) as session:
        engine = session.engine
        results = engine.run(session.catalog.units())
        states = {u.id: engine.unit_state(u) for u in session.catalog.units()}
    assert [(r.unit.id, r.outcome) for r in results] == [
        ("broken", Outcome.FAILED), ("left", Outcome.DONE)]
    assert results[0].message == "broken on purpose"
    assert states == {"broken": "failed", "after-broken": "not done", "left": "done"}
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == ["left.txt"]


def test_one_at_a_time_is_the_plain_sequential_run(demo_plugin: Path, tmp_path: Path) -> None:
    events = Events()
    with _session(tmp_path, [Left, Right, Joined], events, parallel=1) as session:
        session.engine.run(session.catalog.units())
    runs = [(e.step, type(e).__name__) for e in events.seen
            if isinstance(e, (StepStarted, StepFinished)) and e.action == "run"]
    assert runs == [("left", "StepStarted"), ("left", "StepFinished"),
                    ("right", "StepStarted"), ("right", "StepFinished"),
                    ("joined", "StepStarted"), ("joined", "StepFinished")]


def test_a_cancel_mid_run_stops_both_branches_starts_nothing_more_and_rolls_back(
        demo_plugin: Path, tmp_path: Path) -> None:
    Meeting.block_until_cancelled.update({"left", "right"})
    Meeting.started.update({"left": threading.Event(), "right": threading.Event()})
    with _session(tmp_path, [Left, Right, Joined]) as session:
        engine = session.engine
        units = session.catalog.units()

        def cancel_once_both_run() -> None:
            for started in Meeting.started.values():
                assert started.wait(MEET_TIMEOUT)
            engine.cancel()

        canceller = threading.Thread(target=cancel_once_both_run)
        canceller.start()
        results = engine.run(units)
        canceller.join()
        states = [engine.unit_state(u) for u in units]
    assert [(r.unit.id, r.outcome) for r in results] == [
        ("left", Outcome.CANCELLED), ("right", Outcome.CANCELLED)]
    assert states == ["interrupted", "interrupted", "not done"]
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == ["left.txt", "right.txt"]

    Meeting.block_until_cancelled.clear()
    with _session(tmp_path, [Left, Right, Joined]) as session:
        journal = [(row.step, row.kind) for row in session.workspace.journal_rows()]
        assert sorted(journal) == [("left", "file"), ("right", "file")]
        results = session.engine.rollback(session.catalog.units())
        states = [session.engine.unit_state(u) for u in session.catalog.units()]
        assert session.workspace.journal_rows() == []
    assert [r.outcome for r in results] == [Outcome.CLEAN, Outcome.ROLLED_BACK,
                                            Outcome.ROLLED_BACK]
    assert states == ["not done"] * 3
    assert list((tmp_path / "files").iterdir()) == []


def test_the_number_of_units_at_once_is_a_setting_of_at_least_one(
        demo_plugin: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"parallel must be at least 1 \(got 0\)"):
        _session(tmp_path, [Left], parallel=0)


def _independent_steps(count: int) -> list[type[Step]]:
    return [type(f"Wide{n}", (FileStep,), {"id": f"wide-{n}"}) for n in range(count)]


class Widest:
    """The most verifies seen at once."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


def test_a_verify_checks_a_whole_section_in_one_wave_unless_told_a_number(
        demo_plugin: Path, tmp_path: Path) -> None:
    """21 units verify at once by default (runs stay at 8: their hooks change things); an
    explicit --jobs bounds verifies too."""
    steps = _independent_steps(21)
    with _session(tmp_path, steps) as session:
        units = session.catalog.units()
        assert [r.outcome for r in session.engine.run(units)] == [Outcome.DONE] * 21
        _both_meet(*(f"verify {step.id}" for step in steps))  # all 21 must overlap
        assert [r.outcome for r in session.engine.verify(units)] == [Outcome.DONE] * 21
    Meeting.barriers.clear()

    widest = Widest()
    original = FileStep.verify

    def counted(self: FileStep, ctx: StepContext) -> Verdict:
        with widest:
            threading.Event().wait(0.05)
            return original(self, ctx)

    FileStep.verify = counted  # type: ignore[method-assign]
    try:
        with _session(tmp_path, steps, parallel=4) as session:
            assert [r.outcome for r in session.engine.verify(session.catalog.units())] == [
                Outcome.DONE] * 21
    finally:
        FileStep.verify = original  # type: ignore[method-assign]
    assert 1 < widest.most <= 4

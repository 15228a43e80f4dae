"""Fleet operations in-process over the demo steps: each attendee gets exactly their own work."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labtui.catalog import Catalog
from labtui.engine import units_through
from labtui.journal import Record
from labtui.proctor.events import AttendeeFinished, AttendeeStarted, Retrying, UnitEvent
from labtui.proctor.results import AttendeeOutcome, CellState
from labtui.state import Workspace
from labtui.step import Check, Step, StepContext, Verdict
from labtui.targets.base import TargetError, Transient
from tests.proctor.conftest import Recorder, Room

MakeRoom = Callable[..., Room]


def test_provision_then_reset_gives_each_attendee_only_their_own(make_room: MakeRoom) -> None:
    room = make_room(3)
    provisioned = room.fleet().provision("demo-per-env")
    assert [r.outcome for r in provisioned.attendees] == [AttendeeOutcome.DONE] * 3
    assert provisioned.exit_code == 0
    for attendee in room.ids:
        assert sorted(p.name for p in room.files(attendee).iterdir()) == [
            "file-000.txt", "file-001.txt", "file-002.txt", "marker-dev.txt",
            "marker-pipeline.txt"]
        with Workspace(room.workspace(attendee), read_only=True) as workspace:
            assert workspace.get_value("demo-dir", None) == str(room.files(attendee))
    again = room.fleet().provision("demo-per-env")
    assert {r.outcome for r in again.attendees} == {AttendeeOutcome.UNCHANGED}
    assert "already provisioned through demo-per-env" in again.attendees[0].message

    reset = room.fleet().reset()
    assert [r.outcome for r in reset.attendees] == [AttendeeOutcome.DONE] * 3
    assert reset.attendees[0].message.startswith("reset: demo-files removed 3 resources")
    for attendee in room.ids:
        assert list(room.files(attendee).iterdir()) == []
        with Workspace(room.workspace(attendee), read_only=True) as workspace:
            assert workspace.journal_size() == 0
    second = room.fleet().reset()
    assert [(r.outcome, r.message) for r in second.attendees] == [
        (AttendeeOutcome.UNCHANGED, "already clean: nothing to remove")] * 3
    assert second.exit_code == 0


def test_reset_removes_what_a_step_no_longer_installed_made(make_room: MakeRoom) -> None:
    import labtui_demo_steps as demo  # type: ignore[import-not-found]

    room = make_room(2)
    assert room.fleet().provision("demo-per-env").exit_code == 0
    # The proctor's labtui no longer has demo-per-env; its markers are still journaled.
    later = make_room(2, catalog=Catalog([demo.DemoFiles, demo.DemoCanary]), name="later.csv")
    reset = later.fleet().reset()
    assert [r.outcome for r in reset.attendees] == [AttendeeOutcome.DONE] * 2, [
        r.message for r in reset.attendees]
    for attendee in room.ids:
        assert list(room.files(attendee).iterdir()) == []
        with Workspace(room.workspace(attendee), read_only=True) as workspace:
            assert workspace.journal_size() == 0


def test_reset_of_a_room_that_never_started_creates_nothing(make_room: MakeRoom) -> None:
    room = make_room(2)
    summary = room.fleet().reset()
    assert {r.message for r in summary.attendees} == {"no workspace yet: nothing to remove"}
    assert not (room.root / "ws").exists()


def test_attendees_really_run_at_once_and_no_more_than_parallel(make_room: MakeRoom,
                                                                 demo_catalog: Catalog) -> None:
    arrived = threading.Barrier(3, timeout=30)

    class Rendezvous(Step):
        """Runs only if three attendees are inside it at the same time."""

        id = "rendezvous"
        title = "Wait for two other attendees"
        section = "Demo"

        def run(self, ctx: StepContext) -> None:
            arrived.wait()
            ctx.outputs.set("met", "yes")

        def verify(self, ctx: StepContext) -> Verdict:
            return Verdict.of(Check("met", ctx.outputs.get("met") == "yes"))

    room = make_room(3, catalog=Catalog([*[type(s) for s in demo_catalog], Rendezvous]))
    summary = room.fleet(parallel=3).provision("rendezvous")
    assert [r.outcome for r in summary.attendees] == [AttendeeOutcome.DONE] * 3

    running, most = 0, 0
    lock = threading.Lock()

    def count(event: object) -> None:
        nonlocal running, most
        with lock:
            if isinstance(event, AttendeeStarted):
                running += 1
                most = max(most, running)
            elif isinstance(event, AttendeeFinished):
                running -= 1

    room5 = make_room(5, name="five.csv")
    room5.fleet(parallel=2).provision("demo-files", count)
    assert 1 <= most <= 2


def test_events_are_tagged_with_their_attendee(make_room: MakeRoom) -> None:
    room = make_room(2)
    events = Recorder()
    room.fleet().provision("demo-files", events)
    started = [e.attendee for e in events.of(AttendeeStarted)]
    assert sorted(started) == ["a1", "a2"]
    unit_events = events.of(UnitEvent)
    assert {e.attendee for e in unit_events} == {"a1", "a2"}
    lines = [json.dumps(e.to_json()) for e in unit_events]
    assert all('"attendee": "a' in line for line in lines)
    finished = events.of(AttendeeFinished)
    assert len(finished) == 2 and all(e.to_json()["outcome"] == "done" for e in finished)


class Flaky(Step):
    """Its rollback fails a set number of times, then works: with `Transient` (throttled)
    while `transient` is set, else with a permanent TargetError."""

    id = "flaky"
    title = "A step behind a throttled service"
    section = "Demo"
    failures: dict[str, int] = {}
    message = "the service answered 429 Too Many Requests"
    transient = True
    inputs = ()

    def run(self, ctx: StepContext) -> None:
        ctx.journal.record(FlakyThing(f"thing-of-{ctx.value('demo-dir')}"))

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("thing", bool(ctx.journal.entries())))


@dataclass(frozen=True)
class FlakyThing(Record):
    """What Flaky makes: removing it fails while `Flaky.failures` counts down for it."""

    kind = "flaky-thing"
    name: str

    def undo(self, ctx: StepContext) -> None:
        left = Flaky.failures.get(self.name, 0)
        if left:
            Flaky.failures[self.name] = left - 1
            raise Transient(Flaky.message) if Flaky.transient else TargetError(Flaky.message)


def test_a_transient_failure_is_retried_and_a_permanent_one_is_not(make_room: MakeRoom,
                                                                    demo_catalog: Catalog) -> None:
    room = make_room(3, catalog=Catalog([*[type(s) for s in demo_catalog], Flaky]))
    room.fleet().provision("flaky")
    Flaky.failures = {f"thing-of-{room.files('a1')}": 2, f"thing-of-{room.files('a2')}": 9}
    events = Recorder()
    summary = room.fleet(retries=3).reset(events)
    a1, a2, a3 = summary.attendees
    assert (a1.outcome, a1.attempts) == (AttendeeOutcome.DONE, 3), a1.message
    assert (a2.outcome, a2.attempts) == (AttendeeOutcome.FAILED, 4)
    assert "429 Too Many Requests" in a2.message
    assert (a3.outcome, a3.attempts) == (AttendeeOutcome.DONE, 1)
    retries = events.of(Retrying)
    assert [(e.attendee, e.attempt) for e in retries if e.attendee == "a1"] == [("a1", 1),
                                                                                 ("a1", 2)]
    assert summary.exit_code == 1

    # The words do not matter, the kind of error does: this one names a throttle, but as a
    # permanent TargetError it is not retried.
    Flaky.message, Flaky.transient = "429 Too Many Requests: permission denied", False
    Flaky.failures = {f"thing-of-{room.files('a2')}": 1}
    permanent = room.fleet(retries=3).reset()
    assert permanent.attendees[1].outcome is AttendeeOutcome.FAILED
    assert permanent.attendees[1].attempts == 1, "a permanent failure is not retried"
    assert "permission denied" in permanent.attendees[1].message
    assert room.fleet().reset().attendees[1].outcome is AttendeeOutcome.DONE


def test_status_grid_shows_who_is_where_and_what_is_missing(make_room: MakeRoom) -> None:
    room = make_room(3)
    room.fleet(parallel=3).provision("demo-per-env")
    (room.files("a2") / "file-001.txt").unlink()
    shutil.rmtree(room.workspace("a3"))
    grid = room.fleet().status()
    assert [u.label for u in grid.units] == [
        "demo-files", "demo-per-env (dev)", "demo-per-env (pipeline)", "demo-canary"]
    cells = {row.attendee.id: [c.state for c in row.cells] for row in grid.rows}
    done, todo, drift = CellState.DONE, CellState.TODO, CellState.DRIFT
    assert cells["a1"] == [done, done, done, todo]
    assert cells["a2"] == [drift, done, done, todo]
    assert "missing file-001.txt" in grid.rows[1].cells[0].message
    assert grid.rows[0].at(grid.units) == "demo-canary"
    assert cells["a3"] == [todo] * 4
    assert grid.rows[2].cells[0].message == "no workspace yet"
    assert not room.workspace("a3").exists(), "status creates nothing"
    assert grid.exit_code == 3


def test_status_needs_input_names_the_missing_values(make_room: MakeRoom, tmp_path: Path) -> None:
    room = make_room(1)
    roster = room.roster_path
    roster.write_text(roster.read_text().replace(f",{room.files('a1')},", ",,"))
    Workspace(room.workspace("a1")).close()
    row = room.fleet().status().rows[0]
    assert row.cells[0].state is CellState.NEEDS_INPUT
    assert row.cells[0].needs == ("demo-dir",)
    assert "missing value 'demo-dir'" in row.cells[0].message


def test_status_of_a_busy_attendee_shows_their_record_without_waiting(make_room: MakeRoom) -> None:
    room = make_room(2)
    room.fleet().provision("demo-files")
    with Workspace.open(room.workspace("a2"), command="labtui (the attendee's app)"):
        grid = room.fleet().status()
    busy = grid.rows[1]
    assert not busy.live and busy.holder["command"] == "labtui (the attendee's app)"
    assert [c.state for c in busy.cells][:1] == [CellState.DONE]
    assert grid.rows[0].live


def test_cancel_stops_attendees_that_have_not_started(make_room: MakeRoom) -> None:
    room = make_room(4)
    fleet = room.fleet(parallel=1)

    def cancel_after_first(event: object) -> None:
        if isinstance(event, AttendeeFinished):
            fleet.cancel()

    summary = fleet.provision("demo-files", cancel_after_first)
    outcomes = [r.outcome for r in summary.attendees]
    assert outcomes[0] is AttendeeOutcome.DONE
    assert outcomes[1:] == [AttendeeOutcome.CANCELLED] * 3
    assert summary.attendees[1].message == "not started (cancelled)"
    assert summary.exit_code == 130


def test_a_hot_start_takes_on_what_the_engine_says(make_room: MakeRoom) -> None:
    room = make_room(1)
    summary = room.fleet().provision("demo-canary")
    ran = [(r.unit.id, r.unit.env) for r in summary.attendees[0].results]
    assert ran == [(u.id, u.env) for u in units_through(room.catalog, "demo-canary")]
    assert [step for step, _ in ran][:1] == ["demo-files"]

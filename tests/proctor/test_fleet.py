"""Fleet operations in-process over the demo steps: each attendee gets exactly their own work."""

from __future__ import annotations

import base64
import json
import shutil
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labtui.catalog import Catalog
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


def test_export_bundles_every_run_with_secrets_masked(make_room: MakeRoom) -> None:
    room = make_room(2)
    fleet = room.fleet()
    fleet.provision("demo-canary")
    secret = room.environ["A1_SECRET"]
    log = room.workspace("a1") / "logs" / "labtui.log"
    log.write_text(f"a crash report quoting {secret}\n")
    summary = room.fleet().export(room.root / "out")
    assert {r.outcome for r in summary.attendees} == {AttendeeOutcome.DONE}
    with tarfile.open(room.root / "out" / "a1.tar.gz") as tar:
        names = tar.getnames()
        texts = {name: tar.extractfile(name).read().decode()  # type: ignore[union-attr]
                 for name in names if tar.getmember(name).isfile()}
    assert "a1/summary.json" in names and "a1/logs/labtui.log" in names
    assert any(name.startswith("a1/runs/") and name.endswith("demo-canary-run.log")
               for name in names)
    everything = "\n".join(texts.values())
    for form in (secret, base64.b64encode(secret.encode()).decode(), f"gen-{secret[::-1]}"):
        assert form not in everything
    assert "raw: ***" in everything and "quoting ***" in everything
    summary_json = json.loads(texts["a1/summary.json"])
    assert summary_json["attendee"] == "a1"
    # provisioning "through" a step does its section in the lab's order up to that step
    assert {s["step"] for s in summary_json["statuses"]} == {
        "demo-files", "demo-per-env", "demo-canary"}
    assert room.environ["A2_SECRET"] not in everything

    folders = room.fleet().export(room.root / "dirs", archive=False)
    assert folders.exit_code == 0
    assert (room.root / "dirs" / "a2" / "summary.json").stat().st_mode & 0o077 == 0


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

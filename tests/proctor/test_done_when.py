"""Issue #6 "done when": provision ten attendees, break one, reset everyone: nine clean, the
broken one reported with its reason and left exactly as it was, nothing of anyone else
touched; a second reset changes nothing.

Run over the demo steps (fast, every kind of break) and over the lab's real Infrastructure
steps through `secrets` on the local target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

import pytest

from labtui.catalog import Catalog
from labtui.masking import Masker
from labtui.proctor.fleet import Fleet, FleetOptions
from labtui.proctor.results import AttendeeOutcome, FleetSummary
from labtui.proctor.roster import load_roster
from labtui.state import Workspace
from tests.conftest import LAB_DATA, require_lab_data
from tests.proctor.conftest import Room, write_roster

BROKEN = "a4"


@contextmanager
def broken(kind: str, workspace: Path) -> Iterator[str]:
    """Break one attendee's workspace while the block runs; yields the reason to expect."""
    if kind == "locked":
        with Workspace.open(workspace, command="labtui --all --headless") as held:
            assert held
            yield "workspace in use by pid"
        return
    if kind == "corrupt-prefix":
        with Workspace(workspace) as state:
            before = state.get_value("prefix", None)
            state.set_value("prefix", None, "BAD!", secret=False)
        yield "holds prefix 'BAD!', but the roster says 'contoso4'"
        with Workspace(workspace) as state:
            if before is None:
                state.delete_value("prefix", None)
            else:
                state.set_value("prefix", None, before, secret=False)
        return
    raise AssertionError(kind)


def reset_room_with_one_broken(
    fleet: Callable[[], Fleet], provision: Callable[[Fleet], FleetSummary], ids: list[str],
    kind: str, workspace: Callable[[str], Path], leftovers: Callable[[str], list[str]],
) -> None:
    """The scenario, given how to build the fleet and how to see an attendee's resources."""
    provisioned = provision(fleet())
    assert [r.outcome for r in provisioned.attendees] == [AttendeeOutcome.DONE] * len(ids), [
        r.message for r in provisioned.attendees]
    assert all(leftovers(a) for a in ids), "everyone has resources before the reset"
    kept = leftovers(BROKEN)
    with Workspace(workspace(BROKEN), read_only=True) as state:
        journal_before = state.journal_size()

    with ExitStack() as stack:
        reason = stack.enter_context(broken(kind, workspace(BROKEN)))
        summary = fleet().reset()
        by_id = {r.attendee.id: r for r in summary.attendees}
        assert summary.exit_code == 1
        for attendee in ids:
            if attendee == BROKEN:
                continue
            assert by_id[attendee].outcome is AttendeeOutcome.DONE, by_id[attendee].message
            assert leftovers(attendee) == [], f"{attendee} is clean"
            with Workspace(workspace(attendee), read_only=True) as state:
                assert state.journal_size() == 0
        failed = by_id[BROKEN]
        expected = AttendeeOutcome.LOCKED if kind == "locked" else AttendeeOutcome.FAILED
        assert failed.outcome is expected
        assert reason in failed.message
        assert leftovers(BROKEN) == kept, "the broken attendee's resources are untouched"

        again = fleet().reset()
        assert {r.attendee.id: r.outcome for r in again.attendees} == {
            a: (expected if a == BROKEN else AttendeeOutcome.UNCHANGED) for a in ids}
        assert all(r.message == "already clean: nothing to remove"
                   for r in again.attendees if r.attendee.id != BROKEN)
    with Workspace(workspace(BROKEN), read_only=True) as state:
        assert state.journal_size() == journal_before

    repaired = fleet().reset()
    assert {r.attendee.id: r.outcome for r in repaired.attendees} == {
        a: (AttendeeOutcome.DONE if a == BROKEN else AttendeeOutcome.UNCHANGED) for a in ids}
    assert leftovers(BROKEN) == []
    last = fleet().reset()
    assert {r.outcome for r in last.attendees} == {AttendeeOutcome.UNCHANGED}
    assert last.exit_code == 0


@pytest.mark.parametrize("kind", ["locked", "corrupt-prefix"])
def test_ten_attendees_one_broken_over_the_demo_steps(make_room: Callable[..., Room],
                                                      kind: str) -> None:
    room = make_room(10)

    def leftovers(attendee: str) -> list[str]:
        folder = room.files(attendee)
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    reset_room_with_one_broken(lambda: room.fleet(parallel=10),
                               lambda fleet: fleet.provision("demo-per-env"),
                               room.ids, kind, room.workspace, leftovers)


def test_a_reset_goes_on_past_a_secret_the_key_cannot_open(
        make_room: Callable[..., Room]) -> None:
    """A replaced secret.key no longer blocks the reset: rolling back needs no secret."""
    from cryptography.fernet import Fernet

    room = make_room(3)
    provisioned = room.fleet(parallel=3).provision("demo-per-env")
    assert {r.outcome for r in provisioned.attendees} == {AttendeeOutcome.DONE}
    broken_ws = room.workspace("a2")
    with Workspace(broken_ws) as state:
        state.set_value("demo-secret", None, "kept-secret-value", secret=True)
    (broken_ws / "secret.key").write_bytes(Fernet.generate_key())

    summary = room.fleet(parallel=3).reset()
    assert {r.attendee.id: r.outcome for r in summary.attendees} == {
        a: AttendeeOutcome.DONE for a in room.ids}, [r.message for r in summary.attendees]
    assert not any(room.files("a2").iterdir())
    with Workspace(broken_ws, read_only=True) as state:
        assert state.journal_size() == 0
        assert state._query("SELECT count(*) FROM input_values WHERE secret = 1") == [(1,)], (
            "the value the key cannot open is kept, for when the right key is put back")


@pytest.fixture
def lab_room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, dict[str, str]]:
    """A roster of ten attendees for the lab's own steps, shared answers and their tokens."""
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "home" / ".databrickscfg"))
    tokens = {f"A{i}_DATABRICKS_TOKEN": f"dapi{i:04x}0123456789abcdef0123456789ab"
              for i in range(1, 11)}
    roster = write_roster(tmp_path / "roster.csv",
                          ["attendee", "prefix", "workspace", "databricks-token"],
                          [[f"a{i}", f"contoso{i}", f"ws/a{i}", f"A{i}_DATABRICKS_TOKEN"]
                           for i in range(1, 11)])
    require_lab_data()
    answers = tmp_path / "answers.toml"
    answers.write_text('tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
                       'subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"\n'
                       f'data-file = "{LAB_DATA}"\n')
    return roster, answers, tokens


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["locked", "corrupt-prefix"])
def test_ten_attendees_one_broken_over_the_infrastructure_steps(
        lab_room: tuple[Path, Path, dict[str, str]], kind: str) -> None:
    catalog = Catalog.discover()
    if "secrets" not in catalog:
        pytest.skip("the lab's Infrastructure steps (labtui_steps) are not installed")
    roster_path, answers, tokens = lab_room
    environ = {**tokens, "DATABRICKS_CONFIG_FILE": str(roster_path.parent / "home" / "cfg")}
    roster = load_roster(roster_path, catalog.fields(), environ)
    ids = [a.id for a in roster]

    def fleet() -> Fleet:
        return Fleet(roster, FleetOptions(values_file=answers, environ=environ, backoff=0.0),
                     catalog=catalog, masker=Masker())

    def workspace(attendee: str) -> Path:
        return roster_path.parent / "ws" / attendee

    def leftovers(attendee: str) -> list[str]:
        from labtui.targets.local import LocalTarget
        from labtui.targets.resources import KEY_VAULTS

        target = LocalTarget(workspace(attendee))
        try:
            groups = [g.name for g in target.resource_groups.list()]
            refs = [target.ref(f"contoso{attendee[1:]}-db-{env}", KEY_VAULTS,
                               f"contoso{attendee[1:]}-kv-{env}") for env in ("dev", "pipeline")]
            vaults = [f"vault {ref.name}" for ref in refs
                      if _exists(partial(target.vault.get_vault, ref))]
            return sorted(groups + vaults)
        finally:
            target.close()

    reset_room_with_one_broken(fleet, lambda fleet: fleet.provision("secrets"), ids, kind,
                               workspace, leftovers)


def _exists(get: Callable[[], object]) -> bool:
    from labtui.targets.base import NotFound

    try:
        get()
    except NotFound:
        return False
    return True

"""A proctor's reset meets an attendee whose state.db is gone: that one is refused with the
way out and left as it is (nothing adopted, nothing removed); the others are reset."""

from __future__ import annotations

from collections.abc import Callable

from labtui.proctor.results import AttendeeOutcome
from tests.proctor.conftest import Room


def test_reset_refuses_a_workspace_whose_state_db_was_emptied(
        make_room: Callable[..., Room]) -> None:
    room = make_room(3)
    provisioned = room.fleet(parallel=3).provision("demo-per-env")
    assert {r.outcome for r in provisioned.attendees} == {AttendeeOutcome.DONE}
    kept = sorted(p.name for p in room.files("a2").iterdir())
    (room.workspace("a2") / "state.db").write_bytes(b"")

    summary = room.fleet(parallel=3).reset()
    by_id = {r.attendee.id: r for r in summary.attendees}
    assert by_id["a2"].outcome is AttendeeOutcome.FAILED
    assert "state.db is new or was emptied" in by_id["a2"].message
    assert "labtui recover" in by_id["a2"].message
    assert sorted(p.name for p in room.files("a2").iterdir()) == kept
    for other in ("a1", "a3"):
        assert by_id[other].outcome is AttendeeOutcome.DONE, by_id[other].message
        assert not any(room.files(other).iterdir())
    assert summary.exit_code == 1

"""The words for where a unit stands, in one place: every front end shows these.

`unit_state(workspace, unit)` reads the workspace (its recorded status, its run history and who
holds its lock) and answers with one `UnitState`. "not done" and "drift" are kept apart: drift is
a unit that was done and no longer verifies; a unit never done (or rolled back) is not done.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labtui.catalog import Unit
    from labtui.state import RunRecord, Workspace

CHANGING_ACTIONS = ("run", "solve", "rollback")
"""The actions that change what exists; one of them left open means the unit is in between."""


class UnitState(StrEnum):
    """Where a unit stands, as every front end says it."""

    NOT_DONE = "not done"
    DONE = "done"
    DRIFT = "drift"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    RUNNING = "running"


# The recorded status (labtui.engine.Status values) → the word; a missing record is not done.
_RECORDED = {
    "not-started": UnitState.NOT_DONE,
    "done": UnitState.DONE,
    "drift": UnitState.DRIFT,
    "failed": UnitState.FAILED,
    "cancelled": UnitState.INTERRUPTED,
}


def unit_state(workspace: Workspace, unit: Unit) -> UnitState:
    """Where `unit` stands in `workspace`.

    A run, solve or rollback whose record is still open is "running" while the process that
    started it holds the workspace, and "interrupted" once it is gone (killed, crashed): what it
    created is in the journal either way. Otherwise, or when a status was recorded after that
    run began (a verify since found it done), the recorded status decides.
    """
    record = workspace.status(unit.id, unit.env)
    # A person's act (approve: a merge) changes what exists too.
    acts = tuple(action.name for action in unit.step.actions)
    last = workspace.last_run(unit.id, unit.env, CHANGING_ACTIONS + acts)
    if last is not None and last.finished is None and (
            record is None or record.updated < last.started):
        return UnitState.RUNNING if _still_running(workspace, last) else UnitState.INTERRUPTED
    if record is None:
        return UnitState.NOT_DONE
    return _RECORDED.get(record.status, UnitState.NOT_DONE)


def _still_running(workspace: Workspace, run: RunRecord) -> bool:
    """Whether the process holding the workspace now is the one that started `run` (a holder
    that took the lock after the run began is a later process: the run's own one died)."""
    holder = workspace.holder()
    started = holder.get("started")
    return isinstance(started, (int, float)) and run.started >= started

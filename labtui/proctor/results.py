"""What a fleet operation ends with: each attendee's outcome, the summary of a room, and the
status grid (a row per attendee, a cell per unit) with its reading of where each one is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from labtui.catalog import Unit
from labtui.engine import Outcome, Result, Status
from labtui.proctor.roster import Attendee
from labtui.workspace import Workspace


class AttendeeOutcome(StrEnum):
    """How one attendee's work ended."""

    DONE = "done"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    LOCKED = "locked"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"
    """(status) checked: nothing failed or drifted, but some steps are not done yet."""

    @property
    def ok(self) -> bool:
        return self in (AttendeeOutcome.DONE, AttendeeOutcome.UNCHANGED)


@dataclass(frozen=True)
class AttendeeResult:
    """What happened to one attendee: outcome, a one-line message, and each unit's result."""

    attendee: Attendee
    action: str
    outcome: AttendeeOutcome
    message: str
    results: tuple[Result, ...] = ()
    attempts: int = 1
    duration: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"attendee": self.attendee.id, "action": self.action,
                "outcome": self.outcome.value, "message": self.message,
                "attempts": self.attempts, "duration": round(self.duration, 3),
                "units": [{"step": r.unit.id, "env": r.unit.env, "outcome": r.outcome.value,
                           "message": r.message} for r in self.results]}


@dataclass(frozen=True)
class FleetSummary:
    """The outcome of a fleet operation, one result per attendee in roster order.

    Exit code: 0 every attendee ok, 1 any failed or locked (its environment was not brought
    where it should be; the holder is named), 130 cancelled.
    """

    action: str
    attendees: tuple[AttendeeResult, ...]
    duration: float

    @property
    def ok(self) -> bool:
        return all(result.outcome.ok for result in self.attendees)

    def count(self, outcome: AttendeeOutcome) -> int:
        return sum(1 for result in self.attendees if result.outcome is outcome)

    @property
    def exit_code(self) -> int:
        outcomes = {result.outcome for result in self.attendees}
        if AttendeeOutcome.CANCELLED in outcomes:
            return 130
        return 0 if self.ok else 1


class CellState(StrEnum):
    """One attendee's state of one unit, as the proctor's grid shows it."""

    DONE = "done"
    TODO = "todo"
    DRIFT = "drift"
    FAILED = "failed"
    NEEDS_INPUT = "needs-input"


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: a state and, unless done, what is wrong."""

    state: CellState
    message: str = ""
    needs: tuple[str, ...] = ()
    """For needs-input: the inputs that are missing or invalid."""


WAITING_WORDS = "waiting for"
"""What the verify of a step waiting on a person says (a pull request's review, a release's
approval): `proctor status` lists those attendees apart."""

_STUCK_ORDER = (CellState.FAILED, CellState.DRIFT, CellState.NEEDS_INPUT, CellState.TODO)


@dataclass(frozen=True)
class GridRow:
    """One attendee's row of the grid.

    `live` is False when the attendee's own session holds the workspace: the cells are then
    what the workspace last recorded (nothing was verified, nothing trampled) and `holder`
    names the session. `error` says why an attendee could not be checked at all.
    """

    attendee: Attendee
    cells: tuple[Cell, ...]
    live: bool = True
    holder: Mapping[str, Any] = field(default_factory=dict)
    last_activity: float | None = None
    error: str = ""

    @property
    def done(self) -> int:
        return sum(1 for cell in self.cells if cell.state is CellState.DONE)

    def stuck(self, units: Sequence[Unit]) -> tuple[Unit, Cell] | None:
        """Where the attendee is stuck: the first failed unit, else the first that drifted,
        else the first that needs input, else the first not done yet; None when all are done.

        A failure later in the lab is where the attendee is, even when an earlier step that
        nothing needs (cli-profiles, say) was never done."""
        pairs = list(zip(units, self.cells, strict=True))
        for state in _STUCK_ORDER:
            for unit, cell in pairs:
                if cell.state is state:
                    return unit, cell
        return None

    def at(self, units: Sequence[Unit]) -> str:
        """The label of the unit where the attendee is stuck (see `stuck`), or ""."""
        found = self.stuck(units)
        return found[0].label if found else ""

    def where(self, units: Sequence[Unit]) -> str:
        """Where the attendee is, in a few words: "secrets (dev) failed", "next: seed-repo",
        "finished", or "not checked"."""
        if self.error:
            return "not checked"
        found = self.stuck(units)
        if found is None:
            return "finished"
        unit, cell = found
        if cell.state is CellState.TODO:
            return f"next: {unit.label}"
        words = {CellState.FAILED: "failed", CellState.DRIFT: "drifted",
                 CellState.NEEDS_INPUT: "needs input"}
        return f"{unit.label} {words[cell.state]}"

    def waiting(self, units: Sequence[Unit]) -> list[tuple[Unit, str]]:
        """The units waiting for a person's act (a review, an approval: a step that offers
        actions, whose verify says it is "waiting for" someone), with what it says."""
        return [(unit, cell.message) for unit, cell in zip(units, self.cells, strict=True)
                if unit.step.actions and cell.state is not CellState.DONE
                and WAITING_WORDS in cell.message]

    def describe(self, units: Sequence[Unit]) -> tuple[str, str]:
        """The attendee's state in one outcome word and one line, for progress and summaries:
        "done" / "failed" / "incomplete" (an `AttendeeOutcome` value) and "15 of 28 done; …"."""
        if self.error:
            return AttendeeOutcome.FAILED.value, f"not checked: {self.error}"
        counted = f"{self.done} of {len(units)} done"
        found = self.stuck(units)
        if found is None:
            return AttendeeOutcome.DONE.value, counted
        unit, cell = found
        words = {CellState.FAILED: "failed", CellState.DRIFT: "drifted",
                 CellState.NEEDS_INPUT: "needs input", CellState.TODO: "not done yet"}
        line = f"{counted}; stuck at {unit.label}: {words[cell.state]}"
        if cell.state in (CellState.FAILED, CellState.DRIFT) and cell.message:
            line += f" — {cell.message}"
        elif cell.needs:
            line += f" ({', '.join(cell.needs)})"
        if cell.state in (CellState.FAILED, CellState.DRIFT):
            return AttendeeOutcome.FAILED.value, line
        return AttendeeOutcome.INCOMPLETE.value, line.replace("stuck at", "next:", 1)


@dataclass(frozen=True)
class Grid:
    """The proctor's view: a row per attendee, a cell per unit.

    Exit code: 0 every cell done, 3 some cell is not (drift, not done yet, missing values),
    1 an attendee could not be checked.
    """

    units: tuple[Unit, ...]
    rows: tuple[GridRow, ...]

    @property
    def exit_code(self) -> int:
        if any(row.error for row in self.rows):
            return 1
        if any(cell.state is not CellState.DONE for row in self.rows for cell in row.cells):
            return 3
        return 0

    def to_json(self, row: GridRow) -> dict[str, Any]:
        return {
            "event": "grid_row", "attendee": row.attendee.id, "live": row.live,
            "waiting": [{"step": unit.id, "env": unit.env, "message": message}
                        for unit, message in row.waiting(self.units)],
            "holder": dict(row.holder), "last_activity": row.last_activity, "error": row.error,
            "done": row.done, "total": len(self.units), "at": row.at(self.units),
            "cells": [{"step": unit.id, "env": unit.env, "state": cell.state.value,
                       "message": cell.message, "needs": list(cell.needs)}
                      for unit, cell in zip(self.units, row.cells, strict=True)],
        }


def verified_cell(result: Result, before: Status, recorded: str) -> Cell:
    if result.outcome is Outcome.DONE:
        return Cell(CellState.DONE)
    if result.outcome in (Outcome.DRIFT, Outcome.NOT_DONE):
        if before in (Status.DONE, Status.DRIFT):
            return Cell(CellState.DRIFT, result.message)
        if before is Status.FAILED:
            return Cell(CellState.FAILED, recorded or result.message)
        return Cell(CellState.TODO, result.message)
    return Cell(CellState.FAILED, result.message)


_RECORDED = {Status.DONE.value: CellState.DONE, Status.DRIFT.value: CellState.DRIFT,
             Status.FAILED.value: CellState.FAILED}


def recorded_row(attendee: Attendee, units: Sequence[Unit],
                  holder: Mapping[str, Any], *, live: bool = False) -> GridRow:
    """What an attendee's workspace last recorded, read without the lock (SQLite in WAL mode
    lets us read while their own session writes; `holder` names that session)."""
    with Workspace(attendee.workspace, read_only=True) as workspace:
        statuses = workspace.statuses()
        runs = workspace.runs()
        cells = []
        for unit in units:
            record = statuses.get((unit.id, unit.env))
            state = _RECORDED.get(record.status, CellState.TODO) if record else CellState.TODO
            message = record.message if record else ""
            if state is not CellState.DONE and not message:
                message = "; ".join(f"{name}: {text}" for name, ok, text, _ in
                                    workspace.checks(unit.id, unit.env) if not ok)
            cells.append(Cell(state, message))
    last = max((r.finished or r.started for r in runs), default=None)
    return GridRow(attendee, tuple(cells), live=live, holder=dict(holder), last_activity=last)

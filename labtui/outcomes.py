"""How a unit of work ended, and what the workspace records of it: the words the engine
hands its front ends (`Outcome`, `Result`) and keeps in state.db (`Status`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from labtui.catalog import Unit
from labtui.step import Change, Check


class Outcome(StrEnum):
    """How one unit of work ended. A verify that fails is DRIFT for a unit that was done, and
    NOT_DONE for one that never was (or was rolled back, or failed)."""

    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    DRIFT = "drift"
    NOT_DONE = "not done"
    CANCELLED = "cancelled"
    ROLLED_BACK = "rolled-back"
    CLEAN = "clean"
    PLANNED = "planned"


class Status(StrEnum):
    """The recorded status of a unit in the workspace."""

    NOT_STARTED = "not-started"
    DONE = "done"
    FAILED = "failed"
    DRIFT = "drift"
    CANCELLED = "cancelled"


@dataclass
class Result:
    """The result of one action on one unit."""

    unit: Unit
    action: str
    outcome: Outcome
    message: str = ""
    checks: list[Check] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.DONE, Outcome.SKIPPED, Outcome.ROLLED_BACK,
                                Outcome.CLEAN, Outcome.PLANNED)

"""What the fleet tells its front ends: an attendee started, one of its engine events, a
retry, an attendee finished. Front ends get them from worker threads."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labtui.events import Event, JsonEvent


@dataclass(frozen=True)
class FleetEvent(JsonEvent):
    """Something that happened to one attendee's work."""

    attendee: str
    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class AttendeeStarted(FleetEvent):
    """Work on an attendee began: `units` units of work are ahead."""

    action: str
    units: int


@dataclass(frozen=True)
class UnitEvent(FleetEvent):
    """An engine event of one attendee (a step started, a log line, a check …)."""

    event: Event

    def to_json(self) -> dict[str, Any]:
        return {**self.event.to_json(), "attendee": self.attendee}


@dataclass(frozen=True)
class Retrying(FleetEvent):
    """A unit failed for a passing reason; it is tried again after `delay` seconds."""

    unit: str
    attempt: int
    delay: float
    message: str


@dataclass(frozen=True)
class AttendeeFinished(FleetEvent):
    """Work on an attendee ended with `outcome` (an `AttendeeOutcome` value)."""

    action: str
    outcome: str
    message: str
    duration: float


FleetListener = Callable[[FleetEvent], None]
"""A front end's handler; called from worker threads, so it must be thread-safe."""

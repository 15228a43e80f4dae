"""Events the engine emits while it works, for whichever front end is attached.

Each event is a small frozen dataclass; `to_json()` gives the JSON-lines form that `--json`
prints. Text in events has already been masked by the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


class JsonEvent:
    """An event dataclass that names itself in snake case and turns into one JSON object."""

    @property
    def kind(self) -> str:
        name = type(self).__name__
        return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")

    def to_json(self) -> dict[str, Any]:
        return {"event": self.kind, **asdict(self)}  # type: ignore[call-overload]


@dataclass(frozen=True)
class Event(JsonEvent):
    """Something that happened to one unit of work (a step in an environment)."""

    step: str
    env: str | None
    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class StepStarted(Event):
    action: str


@dataclass(frozen=True)
class StepFinished(Event):
    action: str
    outcome: str
    message: str = ""
    duration: float = 0.0


@dataclass(frozen=True)
class LogLine(Event):
    line: str
    level: str = "info"


@dataclass(frozen=True)
class CheckResult(Event):
    """One check of a verify. `before_run` marks the verify a run starts with, whose failing
    checks are the work still to do rather than problems."""

    name: str
    ok: bool
    message: str = ""
    hint: str = ""
    before_run: bool = False


@dataclass(frozen=True)
class Progress(Event):
    done: float
    total: float
    message: str = ""


@dataclass(frozen=True)
class Heartbeat(Event):
    quiet_seconds: float


@dataclass(frozen=True)
class PlannedChange(Event):
    action: str
    resource_kind: str
    ref: str
    detail: str = ""


@dataclass(frozen=True)
class ArtifactReady(Event):
    """A step produced a result file front ends know how to show: "junit", "coverage" or
    "metrics" (train-model's metrics.json)."""

    name: str
    path: str


@dataclass(frozen=True)
class Retrying(Event):
    """A hook failed for a passing reason (the target raised `Transient`): attempt `attempt`
    of `attempts` failed with `message`, and the hook is called again after `delay` seconds."""

    action: str
    attempt: int
    attempts: int
    delay: float
    message: str


Listener = Callable[[Event], None]
"""A front end's handler; called from the engine's threads, so it must be thread-safe."""

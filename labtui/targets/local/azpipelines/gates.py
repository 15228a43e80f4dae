"""Environment checks: before a deployment job runs, its host is asked whether it may.

The runner calls a gate with a `GateRequest` and gets a `GateDecision`; the call may block
while a person decides. `ApprovalGate` is a ready one: environments given a timeout wait for
`approve` or `reject` (from another thread) and time out after it; others pass at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

GateResult = Literal["approved", "rejected", "timedOut", "canceled"]


class Parked(Exception):
    """A gate raises it when the process running the run stops while a deployment job waits
    for its approval: the run stops there, its records as they are (the stage, job and
    approval in progress), and a later `Runner(resume=...)` of the same run goes on from the
    stages it had finished — as an Azure DevOps run goes on waiting with no agent busy."""


@dataclass(frozen=True)
class GateRequest:
    """A deployment job of `stage` asks to deploy to `environment`."""

    environment: str
    stage: str
    job: str
    run_id: int
    cancelled: threading.Event


@dataclass(frozen=True)
class GateDecision:
    result: GateResult
    by: str = ""
    reason: str = ""

    @property
    def approved(self) -> bool:
        return self.result == "approved"

    def describe(self, environment: str) -> str:
        """The one line a failed job shows."""
        if self.result == "rejected":
            who = f" by {self.by}" if self.by else ""
            why = f": {self.reason}" if self.reason else ""
            return f"The approval for environment '{environment}' was rejected{who}{why}"
        if self.result == "timedOut":
            return f"The approval for environment '{environment}' timed out" + (
                f" after {self.reason}" if self.reason else "")
        if self.result == "canceled":
            return f"The run was canceled while waiting for approval of '{environment}'"
        return f"Approved for environment '{environment}'" + (f" by {self.by}" if self.by
                                                               else "")


Gate = Callable[[GateRequest], GateDecision]


def seconds_text(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        days = int(seconds // 86400)
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} minutes"
    return f"{seconds:g} seconds"


class ApprovalGate:
    """Approvals held in memory: `timeouts` maps an environment name (case-insensitive) to
    how long its approval may wait, in seconds."""

    def __init__(self, timeouts: Mapping[str, float]) -> None:
        self.timeouts = {name.lower(): seconds for name, seconds in timeouts.items()}
        self.condition = threading.Condition()
        self.decisions: dict[str, GateDecision] = {}
        self.waiting: dict[str, GateRequest] = {}

    def approve(self, environment: str, by: str, comment: str = "") -> None:
        self.decide(environment, GateDecision("approved", by, comment))

    def reject(self, environment: str, by: str, reason: str = "") -> None:
        self.decide(environment, GateDecision("rejected", by, reason))

    def decide(self, environment: str, decision: GateDecision) -> None:
        with self.condition:
            self.decisions[environment.lower()] = decision
            self.condition.notify_all()

    def pending(self) -> list[GateRequest]:
        with self.condition:
            return list(self.waiting.values())

    def __call__(self, request: GateRequest) -> GateDecision:
        key = request.environment.lower()
        if key not in self.timeouts:
            return GateDecision("approved", reason="the environment has no checks")
        timeout = self.timeouts[key]
        deadline = time.monotonic() + timeout
        with self.condition:
            self.waiting[key] = request
            try:
                while key not in self.decisions:
                    if request.cancelled.is_set():
                        return GateDecision("canceled")
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return GateDecision("timedOut", reason=seconds_text(timeout))
                    self.condition.wait(min(left, 0.05))
                return self.decisions.pop(key)
            finally:
                self.waiting.pop(key, None)

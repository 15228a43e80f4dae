"""One retry policy: what a target answers with `Transient` is tried again, nothing else is.

The policy's pauses go through an injected `wait`, so no test sleeps; the engine tests use the
local target's real `Transient`: its sandbox database held locked by another connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from labtui_steps.infrastructure.records import ResourceGroup

from labtui.catalog import Catalog
from labtui.engine import Engine, Outcome
from labtui.events import Event, Retrying
from labtui.retry import RetryCancelled, RetryPolicy
from labtui.state import Workspace
from labtui.step import Check, Step, StepContext, Verdict
from labtui.targets.base import Conflict, Transient
from labtui.targets.local import LocalTarget
from labtui.values import Resolver


@dataclass
class Waits:
    """An injected `wait`: records each pause, runs `then` on pause n, never sleeps."""

    pauses: list[float] = field(default_factory=list)
    then: dict[int, Callable[[], None]] = field(default_factory=dict)
    cancel_on: int | None = None

    def __call__(self, cancelled: threading.Event, seconds: float) -> bool:
        self.pauses.append(seconds)
        action = self.then.get(len(self.pauses))
        if action is not None:
            action()
        if self.cancel_on == len(self.pauses):
            cancelled.set()
        return cancelled.is_set()


def failing(times: int, error: Exception) -> tuple[Callable[[], str], list[int]]:
    calls: list[int] = []

    def action() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "made"

    return action, calls


def test_transient_twice_then_success_is_retried_with_growing_pauses() -> None:
    waits = Waits()
    policy = RetryPolicy(attempts=4, first_delay=1.0, jitter=0.25, random=lambda: 0.5,
                         wait=waits)
    action, calls = failing(2, Transient("throttled (429)"))
    told: list[tuple[int, float]] = []
    assert policy.call(action, on_retry=lambda n, pause, error: told.append((n, pause))) \
        == "made"
    assert len(calls) == 3
    assert waits.pauses == [1.0, 2.0]
    assert told == [(1, 1.0), (2, 2.0)]


def test_jitter_spreads_pauses_and_retry_after_is_honoured() -> None:
    low = RetryPolicy(first_delay=2.0, jitter=0.25, random=lambda: 0.0)
    high = RetryPolicy(first_delay=2.0, jitter=0.25, random=lambda: 1.0)
    assert low.delay(1, Transient("busy")) == 1.5
    assert high.delay(2, Transient("busy")) == 5.0
    capped = RetryPolicy(first_delay=2.0, max_delay=3.0, jitter=0.0)
    assert capped.delay(5, Transient("busy")) == 3.0
    assert capped.delay(1, Transient("busy", retry_after=7.5)) == 7.5


def test_a_permanent_error_is_not_retried() -> None:
    waits = Waits()
    action, calls = failing(1, Conflict("group lab-db-dev exists in westeurope"))
    with pytest.raises(Conflict):
        RetryPolicy(wait=waits).call(action)
    assert len(calls) == 1 and waits.pauses == []


def test_attempts_are_bounded_and_the_last_transient_is_raised() -> None:
    waits = Waits()
    action, calls = failing(99, Transient("service unavailable (503)"))
    with pytest.raises(Transient, match="503"):
        RetryPolicy(attempts=3, first_delay=0.5, jitter=0.0, wait=waits).call(action)
    assert len(calls) == 3 and waits.pauses == [0.5, 1.0]


def test_cancelling_during_a_pause_stops_without_another_try() -> None:
    cancelled = threading.Event()
    action, calls = failing(99, Transient("busy"))
    with pytest.raises(RetryCancelled):
        RetryPolicy(wait=Waits(cancel_on=1)).call(action, cancelled=cancelled)
    assert len(calls) == 1


class MakeGroup(Step):
    """Makes a resource group through the port; `location` says where."""

    id = "make-group"
    title = "Make a resource group"
    location = "eastus"

    def run(self, ctx: StepContext) -> None:
        ctx.journal.record(ResourceGroup("rg-retry"))
        ctx.target.resource_groups.create("rg-retry", self.location)

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("group", ctx.target.resource_groups.exists("rg-retry")))


@dataclass
class Lab:
    engine: Engine
    target: LocalTarget
    events: list[Event]
    waits: Waits

    def lock_sandbox(self) -> Callable[[], None]:
        """Hold sandbox.db's write lock from another connection, as another process would;
        returns what releases it."""
        self.target.sandbox  # noqa: B018 - opened (and made) before it is locked
        other = sqlite3.connect(self.target.sandbox_path / "sandbox.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")

        def release() -> None:
            other.execute("ROLLBACK")
            other.close()

        return release

    def retried(self) -> list[int]:
        return [e.attempt for e in self.events if isinstance(e, Retrying)]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    events: list[Event] = []
    waits = Waits()
    with Workspace(tmp_path / "ws") as workspace:
        catalog = Catalog([MakeGroup])
        target = LocalTarget(workspace.path, busy_timeout=0.01)
        engine = Engine(catalog, workspace, target, Resolver({}, workspace=workspace),
                        listener=events.append,
                        retry=RetryPolicy(attempts=4, first_delay=0.2, jitter=0.0, wait=waits))
        try:
            yield Lab(engine, target, events, waits)
        finally:
            engine.close()


def test_the_engine_retries_a_step_whose_port_call_is_transient(lab: Lab) -> None:
    release = lab.lock_sandbox()
    lab.waits.then[2] = release  # busy for two tries, free for the third
    [result] = lab.engine.run(lab.engine.catalog.units())
    assert (result.outcome, result.message) == (Outcome.DONE, "done and verified")
    assert lab.retried() == [1, 2]
    assert lab.waits.pauses == [0.2, 0.4]
    assert lab.target.resource_groups.exists("rg-retry")
    kept = lab.engine.workspace.last_run("make-group", None)
    assert kept is not None
    assert any("sandbox.db is busy: another process holds it locked: trying again in 0.2s "
               "(attempt 2 of 4)" in line for line in kept.lines), kept.lines


def test_a_transient_that_does_not_pass_fails_in_one_line_after_the_bound(lab: Lab) -> None:
    release = lab.lock_sandbox()
    try:
        [result] = lab.engine.run(lab.engine.catalog.units())
    finally:
        release()
    assert result.outcome is Outcome.FAILED
    assert lab.retried() == [1, 2, 3]
    assert "\n" not in result.message
    assert result.message.endswith(
        "is busy: another process holds it locked (still so after 4 tries: try again later)")


def test_the_engine_does_not_retry_a_permanent_error(lab: Lab) -> None:
    lab.target.resource_groups.create("rg-retry", "westeurope")  # MakeGroup wants eastus
    [result] = lab.engine.run(lab.engine.catalog.units(), force=True)
    assert result.outcome is Outcome.FAILED
    assert "westeurope" in result.message and "tries" not in result.message
    assert lab.retried() == [] and lab.waits.pauses == []


def test_rollback_is_retried_too_and_a_cancel_in_the_pause_stops_it(lab: Lab) -> None:
    [done] = lab.engine.run(lab.engine.catalog.units())
    assert done.outcome is Outcome.DONE
    release = lab.lock_sandbox()
    lab.waits.then[1] = release
    [rolled] = lab.engine.rollback(lab.engine.catalog.units())
    assert rolled.outcome is Outcome.ROLLED_BACK, rolled.message
    assert lab.retried() == [1]
    assert not lab.target.resource_groups.exists("rg-retry")

    lab.engine.run(lab.engine.catalog.units())
    release = lab.lock_sandbox()
    lab.waits.cancel_on = len(lab.waits.pauses) + 1
    try:
        [stopped] = lab.engine.rollback(lab.engine.catalog.units())
    finally:
        release()
    assert stopped.outcome is Outcome.CANCELLED

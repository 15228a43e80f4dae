"""The release's gate on the local target: a deployment job of a pipeline run asks the
sandbox's environments before it deploys, as an Azure DevOps agent waits on an environment's
checks.

`EnvironmentGate` is what the YAML runner calls (`azpipelines.gates.Gate`): it asks the
environments port for the approval the environment's check requires (`LocalEnvironments.request`)
and waits until a person approves or rejects it (the proctor, the app, `--approve`), until it
times out, or until the run is canceled. An environment without checks passes at once; one
that does not exist is created, as Azure DevOps creates an environment a deployment job names.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from labtui.targets.errors import NotFound, Transient
from labtui.targets.local.azpipelines.gates import (
    GateDecision,
    GateRequest,
    Parked,
    seconds_text,
)
from labtui.targets.local.environments import LocalEnvironments
from labtui.targets.ports.pipelines import Approval

WAIT_SLICE_SECONDS = 0.5
"""How long one wait on the approval lasts before the run's cancel flag is looked at."""


class EnvironmentGate:
    """A runner gate over the environments of one DevOps project.

    Args:
        environments: the sandbox's environments port.
        organization, project: whose environments the run deploys to.
        timeout_seconds: how long an approval waits, overriding the check's
            `timeout_minutes` (tests and demos do not wait two days); None keeps the check's.
        on_waiting: called once with each approval a deployment job starts waiting on.
        park: set it to stop waiting without a decision (`Parked`): the process running the
            run is closing, and the approval goes on waiting for a later one to resume it.
    """

    def __init__(self, environments: LocalEnvironments, organization: str, project: str, *,
                 timeout_seconds: float | None = None,
                 on_waiting: Callable[[Approval], None] | None = None,
                 park: threading.Event | None = None) -> None:
        self.environments = environments
        self.organization = organization
        self.project = project
        self.timeout_seconds = timeout_seconds
        self.on_waiting = on_waiting
        self.park = park or threading.Event()

    def __call__(self, request: GateRequest) -> GateDecision:
        try:
            environment = self.environments.get(self.organization, self.project,
                                                request.environment)
        except NotFound:
            environment = self.environments.create(self.organization, self.project,
                                                   request.environment)
        approval = self.environments.request(environment, request.run_id, request.stage,
                                             timeout_seconds=self.timeout_seconds)
        if approval is None:
            return GateDecision("approved", reason="the environment has no checks")
        if approval.status == "pending" and self.on_waiting is not None:
            self.on_waiting(approval)
        while approval.status == "pending":
            if request.cancelled.is_set():
                return GateDecision("canceled")
            if self.park.is_set():
                raise Parked(f"run {request.run_id} parked at the approval of "
                             f"{request.environment}")
            try:
                approval = self.environments.wait(approval, WAIT_SLICE_SECONDS)
            except Transient:
                continue
        return self.decision(approval, environment.checks[0].timeout_minutes
                             if environment.checks else 0)

    def decision(self, approval: Approval, timeout_minutes: float) -> GateDecision:
        if approval.status == "approved":
            return GateDecision("approved", approval.approved_by, approval.comment)
        if approval.status == "rejected":
            return GateDecision("rejected", approval.approved_by, approval.comment)
        seconds = (self.timeout_seconds if self.timeout_seconds is not None
                   else round(timeout_minutes * 60.0, 3))
        return GateDecision("timedOut", reason=seconds_text(seconds))

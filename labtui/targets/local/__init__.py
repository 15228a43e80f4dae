"""The local target: a sandbox under the workspace folder where every step does real work.

The sandbox (`<workspace>/sandbox/`) is opened on the first use of a port, so commands that
never touch a resource (`labtui list`) create nothing.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

from labtui.targets.base import Target, TargetError
from labtui.targets.local.containers import DockerContainers
from labtui.targets.local.databricks import PROFILE_RETRY_SECONDS, LocalDatabricks
from labtui.targets.local.datalake import LocalDataLake
from labtui.targets.local.devops import LocalDevOps
from labtui.targets.local.environments import LocalEnvironments
from labtui.targets.local.identity import LocalIdentity
from labtui.targets.local.ledger import LocalLedger
from labtui.targets.local.models import LocalModels
from labtui.targets.local.notebooks import NotebookHost
from labtui.targets.local.pipelines import LocalPipelines
from labtui.targets.local.pull_requests import LocalPullRequests
from labtui.targets.local.resource_groups import LocalResourceGroups
from labtui.targets.local.sandbox import Sandbox
from labtui.targets.local.variable_groups import LocalVariableGroups
from labtui.targets.local.vault import LocalVault
from labtui.targets.shared.workstation import AttendeeWorkstation

LATENCY_ENV = "LABTUI_LOCAL_LATENCY"


class _Ports:
    """The ports over one opened sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.resource_groups = LocalResourceGroups(sandbox)
        self.datalake = LocalDataLake(sandbox)
        self.vault = LocalVault(sandbox)
        self.identity = LocalIdentity(sandbox)
        self.models = LocalModels(sandbox)
        host = NotebookHost(sandbox, self.datalake, self.identity, self.models)
        self.databricks = LocalDatabricks(sandbox, self.vault, host)
        # Read lazily: `labtui list` opens no sandbox, and a Docker engine is shared.
        self.containers = DockerContainers(latency=sandbox.pause,
                                           owner=lambda: sandbox.workspace_id)
        self.devops = LocalDevOps(sandbox.root / "devops", latency=sandbox.pause)
        self.pull_requests = LocalPullRequests(sandbox)
        self.variable_groups = LocalVariableGroups(sandbox, lambda: self.devops,
                                                   lambda: self.vault, lambda: self.identity)
        self.environments = LocalEnvironments(sandbox, lambda: self.devops)
        self.devops.on_delete += [self.pull_requests.forget, self.variable_groups.forget,
                                  self.environments.forget]
        self.pipelines = LocalPipelines(sandbox, lambda: self.devops,
                                        lambda: self.variable_groups, lambda: self.environments,
                                        lambda: self.containers, lambda: self.databricks)
        self.devops.on_delete.append(self.pipelines.forget)
        # A completion merges into the target branch: a push the CI triggers hear.
        self.pull_requests.on_merge.append(self.pipelines.pushed)


class LocalTarget(Target):
    """The embedded default target: resources live under `<workspace>/sandbox`.

    `latency` (seconds, default from $LABTUI_LOCAL_LATENCY or 0) is slept by every port call,
    to stand in for a cloud's round trips in benchmarks. `busy_timeout` is how long a port call
    waits for the sandbox database another process holds before it raises `Transient`.
    """

    name = "local"

    def __init__(self, workspace: Path, *, latency: float | None = None,
                 busy_timeout: float = 30.0) -> None:
        # Absolute: file URIs, git's working folders and run threads outlive the cwd.
        super().__init__(Path(workspace).absolute())
        self._shown = Path(workspace) / "sandbox"  # as the user gave it, in the banner
        self.busy_timeout = busy_timeout
        self.latency = _latency_from_env() if latency is None else latency
        if self.latency < 0:
            given = (f"{LATENCY_ENV}={os.environ.get(LATENCY_ENV, '').strip()}"
                     if latency is None else f"latency={latency}")
            raise TargetError(f"{given}: the local target's latency is seconds per call and "
                              "must not be negative (unset it, or give 0 or more)")
        self._ports: _Ports | None = None
        self._ledger: LocalLedger | None = None
        self._lock = threading.Lock()

    @property
    def sandbox_path(self) -> Path:
        return self.workspace / "sandbox"

    def identity(self) -> dict[str, str]:
        shown = {"target": "local", "sandbox": str(self._shown)}
        # Shown once the sandbox exists: asking must not create one (`labtui list`, the app).
        if self._ports is not None or (self.sandbox_path / "sandbox.db").exists():
            shown["subscription"] = self.subscription_id
        return shown

    @property
    def subscription_id(self) -> str:
        """The sandbox's own subscription id, made with it and kept."""
        return self.sandbox.subscription_id

    def _open(self) -> _Ports:
        with self._lock:
            if self._ports is None:
                self._ports = _Ports(Sandbox(self.sandbox_path, latency=self.latency,
                                             busy_timeout=self.busy_timeout))
            return self._ports

    @property
    def sandbox(self) -> Sandbox:
        """The opened sandbox (database, key, folders)."""
        return self._open().sandbox

    @property
    def resource_groups(self) -> LocalResourceGroups:
        return self._open().resource_groups

    @property
    def datalake(self) -> LocalDataLake:
        return self._open().datalake

    @property
    def vault(self) -> LocalVault:
        return self._open().vault

    @property
    def principals(self) -> LocalIdentity:
        return self._open().identity

    @property
    def databricks(self) -> LocalDatabricks:
        return self._open().databricks

    @property
    def models(self) -> LocalModels:
        return self._open().models

    @property
    def containers(self) -> DockerContainers:
        return self._open().containers

    @property
    def devops(self) -> LocalDevOps:
        return self._open().devops

    @property
    def pull_requests(self) -> LocalPullRequests:
        return self._open().pull_requests

    @property
    def variable_groups(self) -> LocalVariableGroups:
        return self._open().variable_groups

    @property
    def environments(self) -> LocalEnvironments:
        return self._open().environments

    @property
    def pipelines(self) -> LocalPipelines:
        return self._open().pipelines

    @property
    def workstation(self) -> AttendeeWorkstation:
        # databricks-sdk retries "connection refused" for retry_timeout_seconds (300 by
        # default): against a sandbox that is not served, a client would wait minutes.
        return AttendeeWorkstation(
            self.workspace, profile_settings={"retry_timeout_seconds": str(PROFILE_RETRY_SECONDS)})

    def journal_mirror(self) -> LocalLedger:
        """The sandbox's own record of the journal and of the workspace it belongs to."""
        with self._lock:
            if self._ledger is None:
                self._ledger = LocalLedger(self.sandbox_path / "sandbox.db", lambda: self.sandbox)
            return self._ledger

    def close(self) -> None:
        with self._lock:
            if self._ports is not None:
                self._ports.pipelines.close()
                self._ports.containers.close()
                self._ports.sandbox.close()
                self._ports = None


def _latency_from_env() -> float:
    raw = os.environ.get(LATENCY_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise TargetError(f"{LATENCY_ENV}={raw!r} is not a number of seconds") from None
    if not math.isfinite(value):
        raise TargetError(f"{LATENCY_ENV}={raw!r} is not a number of seconds")
    return value

"""The ports: the interfaces through which steps reach the lab's resources.

A step never talks to a cloud SDK or to the local sandbox directly; it asks `ctx.target` for a
port (`ctx.target.vault`, `ctx.target.datalake` …). Each target (local, azure) implements the
same ports, so the same step code drives both.

Conventions every port keeps:

- Creating something that already exists with the same settings returns it (idempotent);
  creating it with different settings raises `Conflict` naming the difference.
- Reading something that does not exist raises `NotFound` (a `TargetError`).
- Deleting something that does not exist returns False instead of raising, so undo can be
  repeated; it returns True when something was removed.
- Names are compared the way Azure compares them: resource group, vault and storage account
  names case-insensitively.
- Control-plane resources (storage accounts, vaults, Databricks and ML workspaces) are
  addressed by a `ResourceRef` (subscription, resource group, type, name), as Azure Resource
  Manager addresses them; a ref to another subscription or resource group finds nothing.
- Messages of every error are one line, name the resource and never contain a secret value.
- A failure that passes by itself (throttled, busy, not yet propagated) raises `Transient`,
  never a plain `TargetError` with those words: the engine retries the hook on `Transient`
  only (`labtui.retry`), and shows any other `TargetError` to the attendee as it is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from labtui.targets.errors import (  # re-exported
    BuildFailed as BuildFailed,
)
from labtui.targets.errors import (
    Conflict as Conflict,
)
from labtui.targets.errors import (
    NotFound as NotFound,
)
from labtui.targets.errors import (
    TargetError as TargetError,
)
from labtui.targets.errors import (
    Transient as Transient,
)
from labtui.targets.ports.azure import (  # re-exported
    DataLake as DataLake,
)
from labtui.targets.ports.azure import (
    Identity as Identity,
)
from labtui.targets.ports.azure import (
    Models as Models,
)
from labtui.targets.ports.azure import (
    ResourceGroups as ResourceGroups,
)
from labtui.targets.ports.azure import (
    Vault as Vault,
)
from labtui.targets.ports.containers import (  # re-exported
    Containers as Containers,
)
from labtui.targets.ports.databricks import (  # re-exported
    Databricks as Databricks,
)
from labtui.targets.ports.devops import (  # re-exported
    DevOps as DevOps,
)
from labtui.targets.ports.pipelines import (
    FINISHED_RUN_STATES as FINISHED_RUN_STATES,
)
from labtui.targets.ports.pipelines import (
    VOTES as VOTES,
)
from labtui.targets.ports.pipelines import (  # re-exported
    Approval as Approval,
)
from labtui.targets.ports.pipelines import (
    ApprovalCheck as ApprovalCheck,
)
from labtui.targets.ports.pipelines import (
    ApprovalStatus as ApprovalStatus,
)
from labtui.targets.ports.pipelines import (
    Artifact as Artifact,
)
from labtui.targets.ports.pipelines import (
    Comment as Comment,
)
from labtui.targets.ports.pipelines import (
    Coverage as Coverage,
)
from labtui.targets.ports.pipelines import (
    Environment as Environment,
)
from labtui.targets.ports.pipelines import (
    Environments as Environments,
)
from labtui.targets.ports.pipelines import (
    Pipeline as Pipeline,
)
from labtui.targets.ports.pipelines import (
    PipelineRun as PipelineRun,
)
from labtui.targets.ports.pipelines import (
    Pipelines as Pipelines,
)
from labtui.targets.ports.pipelines import (
    PublishedTest as PublishedTest,
)
from labtui.targets.ports.pipelines import (
    PullRequest as PullRequest,
)
from labtui.targets.ports.pipelines import (
    PullRequests as PullRequests,
)
from labtui.targets.ports.pipelines import (
    PullRequestStatus as PullRequestStatus,
)
from labtui.targets.ports.pipelines import (
    Reviewer as Reviewer,
)
from labtui.targets.ports.pipelines import (
    RunState as RunState,
)
from labtui.targets.ports.pipelines import (
    TimelineRecord as TimelineRecord,
)
from labtui.targets.ports.pipelines import (
    Variable as Variable,
)
from labtui.targets.ports.pipelines import (
    VariableGroup as VariableGroup,
)
from labtui.targets.ports.pipelines import (
    VariableGroups as VariableGroups,
)
from labtui.targets.ports.pipelines import (
    Vote as Vote,
)
from labtui.targets.ports.workstation import (  # re-exported
    Workstation as Workstation,
)
from labtui.targets.resources import (
    OWNER_LABEL as OWNER_LABEL,
)
from labtui.targets.resources import (  # re-exported
    AccessToken as AccessToken,
)
from labtui.targets.resources import (
    AclEntry as AclEntry,
)
from labtui.targets.resources import (
    Cluster as Cluster,
)
from labtui.targets.resources import (
    ContainerInfo as ContainerInfo,
)
from labtui.targets.resources import (
    DatabricksWorkspace as DatabricksWorkspace,
)
from labtui.targets.resources import (
    DataLakeFile as DataLakeFile,
)
from labtui.targets.resources import (
    DeletedSecret as DeletedSecret,
)
from labtui.targets.resources import (
    DevOpsProject as DevOpsProject,
)
from labtui.targets.resources import (
    GitRepository as GitRepository,
)
from labtui.targets.resources import (
    ImageInfo as ImageInfo,
)
from labtui.targets.resources import (
    KeyVault as KeyVault,
)
from labtui.targets.resources import (
    Library as Library,
)
from labtui.targets.resources import (
    LibraryStatus as LibraryStatus,
)
from labtui.targets.resources import (
    MlWorkspace as MlWorkspace,
)
from labtui.targets.resources import (
    ModelVersion as ModelVersion,
)
from labtui.targets.resources import (
    NotebookRun as NotebookRun,
)
from labtui.targets.resources import (
    Profile as Profile,
)
from labtui.targets.resources import (
    ResourceGroup as ResourceGroup,
)
from labtui.targets.resources import (
    ResourceRef as ResourceRef,
)
from labtui.targets.resources import (
    RoleAssignment as RoleAssignment,
)
from labtui.targets.resources import (
    SecretScope as SecretScope,
)
from labtui.targets.resources import (
    ServicePrincipal as ServicePrincipal,
)
from labtui.targets.resources import (
    StorageAccount as StorageAccount,
)

if TYPE_CHECKING:
    from labtui.step import Field
    from labtui.targets.operations import StartedOperation
    from labtui.targets.ownership import JournalMirror


class Target(ABC):
    """A place where the lab's resources live, exposing the ports steps use.

    A target is a plugin registered under the `labtui.targets` entry-point group with its
    `name`. It declares its `options` (a tenant, a subscription, an organisation and its
    token …) as `Field`s; labtui resolves them like step inputs (`--set`, `LABTUI_<NAME>`, the
    answers file, the workspace), checks them against their rules, masks the secret ones and
    calls `configure` with them before any port call.

    A port a target does not offer raises `TargetError` naming the target and the port, so a
    later target (or a partial one) can still run the steps that need only what it has.
    Ports raise `NotFound`, `Conflict` and `Transient` as their docstrings say; any other
    `TargetError` is a failure the attendee has to act on.
    """

    name: ClassVar[str]
    options: ClassVar[tuple[Field, ...]] = ()
    """What the target needs to know before it can be used; a secret option (a token) is
    never accepted on the command line and never shown."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.settings: dict[str, str] = {}
        """The option values `configure` was given (with defaults filled in)."""

    def configure(self, values: Mapping[str, str]) -> None:
        """Take the values of the target's options; called once, before any port call.

        Args:
            values: option name -> value, as resolved (options without a value left out;
                names that are not options of this target are ignored).

        Raises:
            TargetError: an option is missing or breaks its rule; the message names the
                target and the option, never a secret value.

        The default checks every option against its `Field` and keeps the values in
        `settings`; a target that builds clients from them calls it first.
        """
        settings: dict[str, str] = {}
        problems: list[str] = []
        for option in self.options:
            value = values.get(option.name)
            if value is None or value == "":
                if option.required and option.default is None:
                    problems.append(f"missing option {option.name!r} ({option.label})")
                elif option.default is not None:
                    settings[option.name] = option.default
                continue
            problem = option.check(value)
            if problem:
                problems.append(problem)
            else:
                settings[option.name] = value
        if problems:
            raise TargetError(f"the {self.name} target: " + "; ".join(problems))
        self.settings = settings

    @abstractmethod
    def identity(self) -> dict[str, str]:
        """What the banner shows so nobody works against the wrong place (tenant, host …)."""

    @property
    def subscription_id(self) -> str:
        """The subscription the target's resources are in (what `ref` puts in a ref)."""
        raise self._missing("subscription")

    def ref(self, resource_group: str, type: str, name: str) -> ResourceRef:
        """A ref to resource `name` of `type` ("Microsoft.KeyVault/vaults" …) in a resource
        group of the target's subscription: how steps address control-plane resources."""
        return ResourceRef(self.subscription_id, resource_group, type, name)
    def check(self) -> None:  # noqa: B027 - a target with nothing to confirm keeps the default
        """Confirm the options name a place this target can work in (a cloud target signs in
        and reads its subscription); the engine calls it before a step's hook runs.

        Raises:
            TargetError: one line naming what is wrong (the subscription and the tenant …).
        """

    def banner(self) -> str | None:
        """One line naming who and where, which a headless run prints first; None when there
        is nothing to name beyond the workspace (the local sandbox)."""
        return None

    def _missing(self, port: str) -> TargetError:
        return TargetError(f"the {self.name} target has no {port}")

    @property
    def resource_groups(self) -> ResourceGroups:
        """Resource groups."""
        raise self._missing("resource groups")

    @property
    def datalake(self) -> DataLake:
        """Storage accounts with a hierarchical namespace."""
        raise self._missing("data lake")

    @property
    def vault(self) -> Vault:
        """Key Vaults and secrets."""
        raise self._missing("key vault")

    @property
    def principals(self) -> Identity:
        """Service principals and role assignments (`identity()` is the banner)."""
        raise self._missing("identity service")

    @property
    def databricks(self) -> Databricks:
        """Databricks workspaces, clusters, secret scopes, CLI profiles."""
        raise self._missing("Databricks")

    @property
    def models(self) -> Models:
        """Machine Learning workspaces and the model registry."""
        raise self._missing("model registry")

    @property
    def containers(self) -> Containers:
        """A container engine: build, run and test images."""
        raise self._missing("container engine")

    @property
    def devops(self) -> DevOps:
        """Azure DevOps projects and git repositories."""
        raise self._missing("DevOps service")

    @property
    def pull_requests(self) -> PullRequests:
        """Pull requests on the DevOps repositories: reviewers, votes, completion."""
        raise self._missing("pull requests")

    @property
    def variable_groups(self) -> VariableGroups:
        """The DevOps library's variable groups: plain, secret, linked to a Key Vault."""
        raise self._missing("variable groups")

    @property
    def pipelines(self) -> Pipelines:
        """YAML pipelines and their runs: logs, test results, coverage, artifacts."""
        raise self._missing("pipelines")

    @property
    def environments(self) -> Environments:
        """Deployment environments, their approval checks and the approvals runs wait on."""
        raise self._missing("environments")

    @property
    def workstation(self) -> Workstation:
        """The attendee's machine: Databricks CLI profiles and git working copies, the same
        for every target (a target that needs other profile settings or git credentials
        overrides it)."""
        from labtui.targets.shared.workstation import AttendeeWorkstation

        return AttendeeWorkstation(self.workspace)

    def resume_operation(self, operation: StartedOperation) -> None:
        """Wait for a long-running operation an earlier call started and nobody saw end
        (its journal entry outlived a crash), until it has ended either way.

        Raises:
            TargetError: this target starts no such operations, or cannot find this one.
            Transient: the service is busy; worth trying again.
        """
        raise TargetError(f"the {self.name} target has no long-running operations to resume "
                          f"({operation.action} {operation.resource})")

    def journal_mirror(self) -> JournalMirror | None:
        """The target's own record of what the workspace created in it, or None when it keeps
        none (then a lost state.db cannot be rebuilt from the target)."""
        return None

    def close(self) -> None:  # noqa: B027 - most targets hold nothing to release
        """Release connections; the target is not used afterwards."""

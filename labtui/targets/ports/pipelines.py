"""The ports of the lab's Pipelines section: pull requests, variable groups, pipelines and their
runs, environments with approval checks.

They are declared here for the targets to implement (the local sandbox and Azure DevOps); no
step uses them yet. They keep the conventions of `labtui.targets.base`: an idempotent create,
`Conflict` naming the difference, `NotFound` on a read, a delete returning False when there was
nothing to delete, `Transient` for what passes by itself, one-line messages without secrets.

Everything is addressed inside a DevOps project by `organization` and `project` names, as the
`DevOps` port addresses projects and repositories; project, repository, pipeline, group and
environment names are compared case-insensitively, as Azure DevOps compares them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from labtui.targets.resources import GitRepository

# --- pull requests ----------------------------------------------------------------------------

Vote = Literal[10, 5, 0, -5, -10]
"""A reviewer's vote, as Azure DevOps counts it: 10 approved, 5 approved with suggestions,
0 no vote, -5 waiting for the author, -10 rejected."""

VOTES: Mapping[int, str] = {
    10: "approved",
    5: "approved with suggestions",
    0: "no vote",
    -5: "waiting for author",
    -10: "rejected",
}

PullRequestStatus = Literal["active", "completed", "abandoned"]


@dataclass(frozen=True)
class Reviewer:
    """Someone asked to review a pull request, and how they voted."""

    name: str
    vote: int = 0
    required: bool = False


@dataclass(frozen=True)
class PullRequest:
    """A pull request from `source` into `target` (branch names without `refs/heads/`).

    `merge_commit` is the commit the completion made, empty while the request is not completed.
    """

    repository: GitRepository
    id: int
    title: str
    source: str
    target: str
    status: PullRequestStatus
    reviewers: tuple[Reviewer, ...] = ()
    merge_commit: str = ""
    url: str = ""


@dataclass(frozen=True)
class Comment:
    """A comment in a pull request's discussion."""

    author: str
    text: str


class PullRequests(ABC):
    """Pull requests on a DevOps project's git repositories: review, vote, complete."""

    @abstractmethod
    def create(self, repository: GitRepository, source: str, target: str, title: str, *,
               description: str = "",
               reviewers: Sequence[str] = ()) -> PullRequest:
        """Open a pull request, or return the active one from `source` into `target`.

        Args:
            repository: the repository both branches are in.
            source: the branch with the changes (`feature/x`, no `refs/heads/`).
            target: the branch to merge into (`main`).
            title: the request's title.
            description: its text (Markdown).
            reviewers: the names (user principal names or groups) asked to review.

        Returns:
            The new request, or the active one between the same branches when it exists with
            the same title.

        Raises:
            NotFound: the repository or one of the branches does not exist.
            Conflict: an active request between the same branches has another title.
        """

    @abstractmethod
    def get(self, repository: GitRepository, pull_request_id: int) -> PullRequest:
        """The request with its reviewers and their votes. Raises NotFound."""

    @abstractmethod
    def requests(self, repository: GitRepository, *,
                 status: PullRequestStatus | None = "active") -> list[PullRequest]:
        """The repository's requests with `status` (every status with None), newest first.

        Raises:
            NotFound: the repository does not exist.
        """

    @abstractmethod
    def vote(self, repository: GitRepository, pull_request_id: int, reviewer: str,
             vote: Vote) -> PullRequest:
        """Record `reviewer`'s vote (one of `VOTES`), replacing an earlier one; a reviewer who
        was not asked is added.

        Returns:
            The request with the vote counted.

        Raises:
            NotFound: the request does not exist.
            Conflict: the request is completed or abandoned, or the vote is not one of `VOTES`.
        """

    @abstractmethod
    def comment(self, repository: GitRepository, pull_request_id: int, author: str,
                text: str) -> Comment:
        """Add a comment to the request's discussion. Raises NotFound."""

    @abstractmethod
    def comments(self, repository: GitRepository, pull_request_id: int) -> list[Comment]:
        """The discussion, oldest first. Raises NotFound."""

    @abstractmethod
    def complete(self, repository: GitRepository, pull_request_id: int, *,
                 delete_source_branch: bool = False) -> PullRequest:
        """Merge the request into its target branch; completing a completed request returns it.

        Returns:
            The completed request; `merge_commit` is the commit the merge made on the target.

        Raises:
            NotFound: the request does not exist.
            Conflict: it is abandoned, a required reviewer has not approved (a vote below 5),
                someone rejected it (-10), or the branches do not merge cleanly; the message
                names which.
        """

    @abstractmethod
    def abandon(self, repository: GitRepository, pull_request_id: int) -> bool:
        """Abandon an active request; False if it was already abandoned or does not exist.

        Raises:
            Conflict: the request is completed (a merge cannot be abandoned).
        """


# --- variable groups ------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """A variable of a group. A secret one never carries its value back (`value` is empty)."""

    name: str
    value: str = ""
    secret: bool = False


@dataclass(frozen=True)
class VariableGroup:
    """A library variable group. When `vault` is set, its variables are that Key Vault's
    secrets of the same names (read by the pipeline at run time; none are stored here)."""

    organization: str
    project: str
    name: str
    variables: tuple[Variable, ...] = ()
    vault: str = ""
    description: str = ""


class VariableGroups(ABC):
    """A DevOps project's library of variable groups, plain or linked to a Key Vault."""

    @abstractmethod
    def create(self, organization: str, project: str, name: str,
               variables: Sequence[Variable] = (), *, description: str = "") -> VariableGroup:
        """Create a group holding `variables`, or return it if it holds the same names and
        plain values (a secret's value cannot be compared; it is set again).

        Raises:
            NotFound: the project does not exist.
            Conflict: the group exists with other variables or plain values, or is linked to a
                vault; the message names the variables that differ, never a secret's value.
        """

    @abstractmethod
    def create_linked(self, organization: str, project: str, name: str, vault: str,
                      secrets: Sequence[str], *, service_connection: str) -> VariableGroup:
        """Create a group whose variables are the Key Vault `vault`'s secrets named `secrets`,
        read through the service connection `service_connection`; or return it if it exists
        linked the same way.

        Raises:
            NotFound: the project, the vault, the service connection or one of the secrets
                does not exist.
            Conflict: the group exists with plain variables, or linked to another vault or
                other secrets (named in the message).
        """

    @abstractmethod
    def get(self, organization: str, project: str, name: str) -> VariableGroup:
        """The group; secret variables come back without their values. Raises NotFound."""

    @abstractmethod
    def groups(self, organization: str, project: str) -> list[VariableGroup]:
        """The project's groups by name. Raises NotFound (project)."""

    @abstractmethod
    def set_variable(self, organization: str, project: str, group: str,
                     variable: Variable) -> None:
        """Add or replace one variable of a plain group.

        Raises:
            NotFound: the group does not exist.
            Conflict: the group is linked to a vault (its variables are the vault's secrets).
        """

    @abstractmethod
    def delete_variable(self, organization: str, project: str, group: str, name: str) -> bool:
        """Remove a variable from a plain group; False if it was not there. Raises NotFound."""

    @abstractmethod
    def delete(self, organization: str, project: str, name: str) -> bool:
        """Delete a group; False if it did not exist."""


# --- pipelines and runs -----------------------------------------------------------------------

RunState = Literal["queued", "running", "succeeded", "failed", "canceled"]
FINISHED_RUN_STATES: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})


@dataclass(frozen=True)
class Pipeline:
    """A YAML pipeline defined by the file `yaml_path` in `repository`."""

    repository: GitRepository
    id: int
    name: str
    yaml_path: str
    url: str = ""


@dataclass(frozen=True)
class PipelineRun:
    """One run of a pipeline. `state` is one of `RunState`; `stage` names the stage running
    now (or where it stopped); `waiting_for` the environment whose approval it waits on, if
    any."""

    pipeline: Pipeline
    id: int
    branch: str
    commit: str
    state: RunState
    stage: str = ""
    waiting_for: str = ""
    url: str = ""


TimelineType = Literal["Stage", "Job", "Task", "Checkpoint"]
TimelineState = Literal["pending", "inProgress", "completed"]


@dataclass(frozen=True)
class TimelineRecord:
    """A stage, job, step (`Task`) or approval (`Checkpoint`) of a run, as Azure DevOps'
    build timeline has it: `parent` is the id of the record it belongs to (empty for a
    stage), `order` its place among all records, `state` one of `TimelineState` and, once
    completed, `result` one of succeeded, succeededWithIssues, failed, canceled, skipped.
    `started` and `finished` are POSIX times (0 until then); `errors` are the messages it
    failed with (masked); `has_log` says whether `Pipelines.step_log` has lines for it."""

    id: str
    type: TimelineType
    name: str
    display_name: str = ""
    parent: str = ""
    order: int = 0
    state: TimelineState = "pending"
    result: str = ""
    started: float = 0.0
    finished: float = 0.0
    errors: tuple[str, ...] = ()
    has_log: bool = False


@dataclass(frozen=True)
class PublishedTest:
    """One test a run published (JUnit), with its outcome."""

    name: str
    outcome: Literal["passed", "failed", "skipped"]
    duration: float = 0.0
    message: str = ""


@dataclass(frozen=True)
class Coverage:
    """The code coverage a run published (Cobertura): line rate overall and per file."""

    line_rate: float
    files: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Artifact:
    """A file set a run published (`PublishPipelineArtifact`), with its size in bytes."""

    name: str
    size: int
    url: str = ""


class Pipelines(ABC):
    """YAML build and release pipelines of a DevOps project, and their runs."""

    @abstractmethod
    def create(self, repository: GitRepository, name: str, yaml_path: str) -> Pipeline:
        """Define a pipeline from the YAML file `yaml_path` (relative to the repository's root,
        on its default branch), or return it if it exists with the same file.

        Raises:
            NotFound: the repository, or the file on its default branch, does not exist.
            Conflict: a pipeline of that name exists with another repository or file.
        """

    @abstractmethod
    def get(self, organization: str, project: str, name: str) -> Pipeline:
        """Raises NotFound."""

    @abstractmethod
    def pipelines(self, organization: str, project: str) -> list[Pipeline]:
        """The project's pipelines by name. Raises NotFound (project)."""

    @abstractmethod
    def delete(self, pipeline: Pipeline) -> bool:
        """Delete the pipeline with its runs; False if it did not exist."""

    @abstractmethod
    def queue(self, pipeline: Pipeline, *, branch: str = "main",
              variables: Mapping[str, str] | None = None) -> PipelineRun:
        """Start a run on the head of `branch`.

        Args:
            pipeline: what to run.
            branch: the branch whose head commit it runs (no `refs/heads/`).
            variables: values for the pipeline's queue-time variables.

        Returns:
            The run as queued.

        Raises:
            NotFound: the pipeline or the branch does not exist.
            Conflict: a variable is not settable at queue time (named in the message).
        """

    @abstractmethod
    def run(self, pipeline: Pipeline, run_id: int) -> PipelineRun:
        """The run's current state. Raises NotFound."""

    @abstractmethod
    def runs(self, pipeline: Pipeline) -> list[PipelineRun]:
        """The pipeline's runs, newest first. Raises NotFound (pipeline)."""

    @abstractmethod
    def wait(self, run: PipelineRun, timeout: float, *,
             on_log: Callable[[str], None] | None = None) -> PipelineRun:
        """Wait until the run finishes (`FINISHED_RUN_STATES`) or waits for an approval.

        Args:
            run: the run to follow.
            timeout: seconds to wait at most.
            on_log: called with each log line as the run writes it.

        Returns:
            The run as it stands: finished, or with `waiting_for` naming the environment.

        Raises:
            NotFound: the run does not exist.
            Transient: it is still running after `timeout` (waiting again is sound).
        """

    @abstractmethod
    def cancel(self, run: PipelineRun) -> bool:
        """Cancel a queued or running run; False if it had finished or does not exist."""

    @abstractmethod
    def logs(self, run: PipelineRun) -> list[str]:
        """The run's log lines so far, every job's in order; secrets the pipeline knows are
        masked (`***`) as Azure DevOps masks them. Raises NotFound."""

    @abstractmethod
    def timeline(self, run: PipelineRun) -> list[TimelineRecord]:
        """The run's stages, jobs, steps and approval checkpoints so far, by `order` (empty
        while no agent has picked it up). A follower reads it again to see the run go on.

        Raises:
            NotFound: the run does not exist.
        """

    @abstractmethod
    def step_log(self, run: PipelineRun, record_id: str) -> list[str]:
        """One timeline record's log lines so far, masked as `logs` masks them; empty for a
        record without a log (a stage, a job, a step that has not started).

        Raises:
            NotFound: the run, or a record `record_id` in its timeline, does not exist.
        """

    @abstractmethod
    def test_results(self, run: PipelineRun) -> list[PublishedTest]:
        """The test cases the run published; empty when it published none. Raises NotFound."""

    @abstractmethod
    def coverage(self, run: PipelineRun) -> Coverage | None:
        """The coverage the run published, or None when it published none. Raises NotFound."""

    @abstractmethod
    def artifacts(self, run: PipelineRun) -> list[Artifact]:
        """The artifacts the run published, by name. Raises NotFound."""

    @abstractmethod
    def download_artifact(self, run: PipelineRun, name: str, destination: str) -> None:
        """Copy the artifact `name` into the folder `destination` on this machine.

        Raises:
            NotFound: the run or the artifact does not exist.
        """


# --- environments and approvals -------------------------------------------------------------

ApprovalStatus = Literal["pending", "approved", "rejected", "timed out"]


@dataclass(frozen=True)
class ApprovalCheck:
    """An approval check on an environment: one of `approvers` must approve within
    `timeout_minutes`, or the stage fails. Minutes, as Azure DevOps' check configuration
    keeps its `timeout` (whole minutes there: a target rounds a fraction up); a sandbox keeps
    a fraction as it is (a test's seconds)."""

    approvers: tuple[str, ...]
    timeout_minutes: float = 43200
    instructions: str = ""


@dataclass(frozen=True)
class Environment:
    """A deployment environment (`dev`, `prod`) a stage deploys to, with its checks."""

    organization: str
    project: str
    name: str
    checks: tuple[ApprovalCheck, ...] = ()


@dataclass(frozen=True)
class Approval:
    """A run's stage waiting on (or past) an environment's approval check."""

    id: str
    environment: str
    run_id: int
    stage: str
    status: ApprovalStatus
    approvers: tuple[str, ...] = ()
    approved_by: str = ""
    comment: str = ""


class Environments(ABC):
    """A DevOps project's deployment environments, their approval checks and the approvals
    runs wait on."""

    @abstractmethod
    def create(self, organization: str, project: str, name: str, *,
               description: str = "") -> Environment:
        """Create an environment without checks, or return it if it exists.

        Raises:
            NotFound: the project does not exist.
        """

    @abstractmethod
    def get(self, organization: str, project: str, name: str) -> Environment:
        """The environment with its checks. Raises NotFound."""

    @abstractmethod
    def delete(self, organization: str, project: str, name: str) -> bool:
        """Delete an environment with its checks; False if it did not exist."""

    @abstractmethod
    def add_approval_check(self, environment: Environment,
                           check: ApprovalCheck) -> Environment:
        """Require an approval before a stage deploys to `environment`, or keep the same check.

        Returns:
            The environment with the check.

        Raises:
            NotFound: the environment or one of the approvers does not exist.
            Conflict: it has an approval check with other approvers or another timeout (the
                message names which).
        """

    @abstractmethod
    def remove_checks(self, environment: Environment) -> bool:
        """Remove every check of the environment; False if it had none. Raises NotFound."""

    @abstractmethod
    def approvals(self, organization: str, project: str, *,
                  status: ApprovalStatus | None = "pending") -> list[Approval]:
        """The project's approvals with `status` (every status with None), oldest first.

        Raises:
            NotFound: the project does not exist.
        """

    @abstractmethod
    def approve(self, approval: Approval, approver: str, comment: str = "") -> Approval:
        """Approve as `approver`; the waiting stage goes on. Approving an approved one
        returns it.

        Raises:
            NotFound: the approval does not exist.
            Conflict: `approver` is not one of its approvers, or it was rejected or timed out.
        """

    @abstractmethod
    def reject(self, approval: Approval, approver: str, comment: str = "") -> Approval:
        """Reject as `approver`; the waiting stage fails. Rejecting a rejected one returns it.

        Raises:
            NotFound: the approval does not exist.
            Conflict: `approver` is not one of its approvers, or it was approved or timed out.
        """

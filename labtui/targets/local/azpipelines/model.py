"""A pipeline as the loader understands it: stages → jobs → steps, after template expressions
and the short forms (a top-level `jobs:` or `steps:`) are resolved. Plain data, no behaviour
beyond what Azure's own rules say (branch filters)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from labtui.targets.local.azpipelines.expressions import Node


@dataclass(frozen=True)
class Place:
    """Where something is written: a line and column counted from 1."""

    line: int
    column: int
    file: str = ""  # set when it is in a template, not the pipeline file


@dataclass(frozen=True)
class Condition:
    text: str
    node: Node
    place: Place


@dataclass(frozen=True)
class VariableSpec:
    """One entry of a `variables:` block: a name and value, or a group to bring in."""

    name: str = ""
    value: str = ""
    readonly: bool = False
    group: str = ""
    place: Place = Place(0, 0)


@dataclass(frozen=True)
class Step:
    """One step; `script:` and `bash:` are the tasks CmdLine@2 and Bash@3 as Azure runs them.
    `kind` keeps the form it was written in (script, bash, task, checkout)."""

    kind: str
    task: str  # "cmdline@2" — the registry key
    display_name: str
    inputs: dict[str, str]
    name: str = ""
    condition: Condition | None = None
    continue_on_error: bool = False
    enabled: bool = True
    env: dict[str, str] = field(default_factory=dict)
    timeout_minutes: float = 0.0
    retries: int = 0  # retryCountOnTaskFailure
    place: Place = Place(0, 0)


@dataclass(frozen=True)
class Job:
    """A job or, when `environment` is set, a deployment job (`strategy: runOnce`)."""

    name: str
    display_name: str
    steps: tuple[Step, ...]
    depends_on: tuple[str, ...] = ()
    condition: Condition | None = None
    continue_on_error: bool = False
    timeout_minutes: float = 0.0
    variables: tuple[VariableSpec, ...] = ()
    environment: str = ""
    place: Place = Place(0, 0)

    @property
    def is_deployment(self) -> bool:
        return bool(self.environment)


@dataclass(frozen=True)
class Stage:
    name: str
    display_name: str
    jobs: tuple[Job, ...]
    depends_on: tuple[str, ...] = ()
    condition: Condition | None = None
    variables: tuple[VariableSpec, ...] = ()
    place: Place = Place(0, 0)


@dataclass(frozen=True)
class BranchFilter:
    """A `trigger:` or `pr:` block: `none` disables it; no `include` means every branch."""

    enabled: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def matches(self, branch: str) -> bool:
        """Whether a push to `branch` (`main` or `refs/heads/main`) starts a run. Filters
        match case-insensitively with `*` wildcards; an exclude wins over an include."""
        if not self.enabled:
            return False
        name = branch.removeprefix("refs/heads/").lower()

        def hit(pattern: str) -> bool:
            wanted = pattern.removeprefix("refs/heads/").lower()
            return fnmatch.fnmatchcase(name, wanted)

        if any(hit(pattern) for pattern in self.exclude):
            return False
        return not self.include or any(hit(pattern) for pattern in self.include)


@dataclass(frozen=True)
class PipelineResource:
    """`resources: pipelines:` — another pipeline whose runs this one consumes and, with a
    `trigger`, whose completed runs start this one (a release after a green build)."""

    alias: str  # `pipeline:`, the name `resources.pipeline.<alias>.*` variables use
    source: str  # the other pipeline's name
    trigger: BranchFilter = BranchFilter(enabled=False)
    """Which branches' completed runs trigger this one (off without `trigger:`)."""
    branch: str = ""  # the branch whose latest run a manual run consumes
    place: Place = Place(0, 0)

    def triggered_by(self, source: str, branch: str) -> bool:
        """Whether a successful run of the pipeline named `source` on `branch` starts this
        pipeline (names compare case-insensitively, as Azure's do)."""
        return source.lower() == self.source.lower() and self.trigger.matches(branch)


@dataclass(frozen=True)
class Pipeline:
    """A loaded pipeline: `parameters` hold the values the run uses (defaults filled in)."""

    file: str
    name: str
    trigger: BranchFilter
    pr: BranchFilter
    parameters: dict[str, object]
    variables: tuple[VariableSpec, ...]
    stages: tuple[Stage, ...]
    resources: tuple[PipelineResource, ...] = ()

    def triggers(self, source: str, branch: str) -> list[PipelineResource]:
        """The pipeline resources a successful run of `source` on `branch` triggers."""
        return [r for r in self.resources if r.triggered_by(source, branch)]

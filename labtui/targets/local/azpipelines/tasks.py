"""Tasks: `- task: Name@major` maps to a handler registered with the inputs it accepts.

The built-in ones (builtin_tasks.py: `CmdLine@2`, `Bash@3`, `CopyFiles@2`, the publish tasks)
are registered the same way a host registers its own: `builtin_registry().register(spec)`.
A handler gets a `TaskContext` with its inputs (macros expanded) and reports failure by
raising `TaskFailed`."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

TaskOutcome = Literal["succeeded", "succeededWithIssues"]


class TaskFailed(Exception):
    """A task's failure; the message goes to the log and the timeline as the step's error."""


@dataclass(frozen=True)
class InputSpec:
    """One input of a task, as its task.json declares it."""

    name: str
    required: bool = False
    default: str = ""
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()


class TaskContext(ABC):
    """What a task handler can use while it runs (the runner gives one per step)."""

    inputs: Mapping[str, str]
    sources_directory: Path
    staging_directory: Path
    temp_directory: Path
    working_directory: Path
    cancelled: threading.Event
    environment: str  # the deployment job's environment, or ""

    @abstractmethod
    def log(self, line: str) -> None:
        """Write a line to the step's log (masked)."""

    @abstractmethod
    def warning(self, message: str) -> None:
        """A warning: in the log and on the step's timeline record."""

    @abstractmethod
    def error(self, message: str) -> None:
        """An error on the step's timeline record and in its log; it does not fail the task
        (raise TaskFailed for that), as `##vso[task.logissue type=error]` does not."""

    @abstractmethod
    def variable(self, name: str) -> str | None:
        """A variable's value (secret ones included: a task may use them, never log them)."""

    @abstractmethod
    def set_variable(self, name: str, value: str, *, secret: bool = False) -> None:
        """Set a variable for the steps after this one."""

    @abstractmethod
    def run_bash(self, script: str, *, working_directory: Path, fail_on_stderr: bool,
                 env: Mapping[str, str] | None = None) -> None:
        """Run `script` as the agent runs a Bash task; raises TaskFailed on a non-zero exit."""

    @abstractmethod
    def publish_tests(self, title: str, report: Mapping[str, object]) -> None:
        """Keep a test run (see results.TestRun.to_json) with the run's records."""

    @abstractmethod
    def publish_coverage(self, report: Mapping[str, object]) -> None:
        """Keep a coverage summary with the run's records."""

    @abstractmethod
    def publish_artifact(self, name: str, source: Path) -> int:
        """Copy a file or folder into the run's artifacts as `name`; returns its size."""

    def boolean(self, name: str) -> bool:
        return self.inputs.get(name, "").strip().lower() == "true"


TaskHandler = Callable[[TaskContext], "TaskOutcome | None"]


@dataclass(frozen=True)
class TaskSpec:
    """A task the runner knows: `name` and `major` as the YAML writes them (`Bash`, 3)."""

    name: str
    major: int
    handler: TaskHandler
    inputs: tuple[InputSpec, ...] = ()
    friendly: str = ""  # the step's name on the timeline when it has no displayName

    @property
    def key(self) -> str:
        return f"{self.name.lower()}@{self.major}"

    def input(self, spelled: str) -> InputSpec | None:
        wanted = spelled.lower()
        return next((spec for spec in self.inputs if wanted == spec.name.lower()
                     or wanted in (alias.lower() for alias in spec.aliases)), None)


@dataclass
class TaskRegistry:
    """Task name@major → its spec; names compare case-insensitively, as Azure's do."""

    specs: dict[str, TaskSpec] = field(default_factory=dict)

    def register(self, spec: TaskSpec) -> None:
        self.specs[spec.key] = spec

    def get(self, reference: str) -> TaskSpec | None:
        return self.specs.get(reference.strip().lower())

    def __iter__(self) -> Iterator[TaskSpec]:
        return iter(sorted(self.specs.values(), key=lambda spec: spec.key))

    def names(self) -> list[str]:
        return [f"{spec.name}@{spec.major}" for spec in self]


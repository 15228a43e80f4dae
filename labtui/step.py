"""The step contract: what a lab step declares and the hooks the engine calls.

A step is one unit of the lab ("Add secrets to the Key Vault"). It declares the inputs it needs
(`Field`), the steps that must be done before it (`requires`) and whether it repeats for each of
the lab's environments (`per_environment`). The engine calls its hooks with a `StepContext`:

- `verify(ctx)` is read-only and returns a `Verdict` of named checks;
- `run(ctx)` does the work, idempotently, journaling a `Record` of every resource it creates
  *before* creating it, so a crash leaves an exact list of what may exist;
- `rollback(ctx)` undoes the journal newest-first (each record owns its undo); a resource that
  is already gone is fine;
- `plan(ctx)` says what `run` would create, change or delete without touching anything.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar, cast

from labtui.journal import Journal as Journal
from labtui.journal import JournalEntry as JournalEntry
from labtui.journal import Record as Record
from labtui.validation import validate_value

if TYPE_CHECKING:
    from labtui.actions import Action
    from labtui.targets.base import PipelineRun, Target

ENVIRONMENTS: tuple[str, ...] = ("dev", "pipeline")
"""The lab's environments: most infrastructure steps run once for each."""

SECTIONS: tuple[str, ...] = ("Infrastructure", "Azure DevOps", "Dev loop", "Pipelines")
"""The lab's sections, in the order the lab text teaches them."""

STEP_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

Derive = Callable[[Mapping[str, str], "str | None"], "str | None"]
"""A derived default: (values resolved so far, environment) -> value, or None if not derivable.
It raises KeyError(name) when a value it builds on is missing, so that one is reported instead."""


class StepError(Exception):
    """An expected failure of a step: its message is shown to the attendee as it is (masked)."""


class Cancelled(Exception):
    """Raised inside a step when the user cancelled the run (Ctrl-C, the app's cancel)."""


@dataclass(frozen=True)
class Field:
    """One input a step needs from the attendee.

    `kind` is one of `labtui.validation.FIELD_KINDS`; `resource` names the Azure resource type
    whose naming rule applies to an `azure-name` (for example "storage-account"). `derive`
    computes a default from other values; `validate` adds a rule of the step's own and returns
    an error message or None. Secret fields are never accepted on the command line and never
    shown in clear. `per_environment` declares that the value differs by environment (the lab
    names it per environment, like `{prefix}-db-dev`): it is saved for one environment and
    edited on a step's environment nodes; every other value is shared, typed once.
    """

    name: str
    label: str
    kind: str = "text"
    required: bool = True
    secret: bool = False
    default: str | None = None
    derive: Derive | None = None
    validate: Callable[[str], str | None] | None = None
    help: str = ""
    resource: str | None = None
    choices: tuple[str, ...] = ()
    per_environment: bool = False

    @property
    def env_var(self) -> str:
        """The environment variable that supplies this input: LABTUI_TENANT_ID for tenant-id."""
        return "LABTUI_" + self.name.upper().replace("-", "_")

    @property
    def is_secret(self) -> bool:
        return self.secret or self.kind == "secret"

    def check(self, value: str) -> str | None:
        """Validate `value`; return a one-line problem naming the field and the rule, or None."""
        problem = validate_value(self.kind, value, resource=self.resource, choices=self.choices)
        if problem is None and self.validate is not None:
            problem = self.validate(value)
        return f"{self.name}: {problem}" if problem else None


@dataclass(frozen=True)
class Check:
    """One named check of a verify: ok, or a message saying what is wrong and a hint what to do."""

    name: str
    ok: bool
    message: str = ""
    hint: str = ""


@dataclass(frozen=True)
class Verdict:
    """The outcome of a verify: a list of checks. It holds when every check is ok."""

    checks: tuple[Check, ...] = ()

    @classmethod
    def of(cls, *checks: Check) -> Verdict:
        return cls(tuple(checks))

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)


@dataclass(frozen=True)
class Change:
    """One thing `run` would do: create, change or delete a resource (or keep it as it is)."""

    action: Literal["create", "change", "delete", "keep"]
    kind: str
    ref: str
    detail: str = ""


R = TypeVar("R")


class Outputs(Protocol):
    """Values a step hands to later steps (a service principal's app id, a cluster id)."""

    def set(self, name: str, value: str, *, secret: bool = False) -> None:
        """Keep `value` under `name` for this unit; secret ones are encrypted and masked."""

    def get(self, name: str, *, step: str | None = None, env: str | None = None) -> str | None:
        """An output of `step` (default: this step) in `env` (default: this unit's)."""


class Logger(Protocol):
    """The step's log: masked, thread-safe, streamed to whichever front end is attached."""

    def __call__(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...


@dataclass
class StepContext:
    """What a hook gets: resolved values, the target's ports, the log, the journal, outputs."""

    step_id: str
    env: str | None
    values: Mapping[str, str]
    target: Target
    log: Logger
    journal: Journal
    outputs: Outputs
    artifacts: Path
    cancelled: threading.Event = field(default_factory=threading.Event)
    report_progress: Callable[[float, float, str], None] = lambda done, total, message: None
    register_secret: Callable[[str], None] = lambda value: None
    publish_artifact: Callable[[str, Path], None] = lambda name, path: None
    redact: Callable[[str], str] = lambda text: text
    gather_calls: Callable[[Sequence[Callable[[], Any]], threading.Event], list[Any]] | None \
        = None
    """Makes independent calls at once (the engine's `labtui.gather.CallPool`); None: in turn."""

    def gather(self, *calls: Callable[[], R]) -> list[R]:
        """Make independent calls (port calls that do not need each other's answers) at
        once, on the engine's bounded pool, and return their results in order: on a cloud,
        sixteen reads cost one round trip instead of sixteen. Every call ends before this
        returns; if any raised, the first (in order) is raised. Once cancelled, calls not yet
        started are not made and `Cancelled` is raised.

            value, names = ctx.gather(partial(vault.get_secret, name, "sp-app-id"),
                                      partial(databricks.scope_secrets, workspace, scope))
        """
        if self.gather_calls is None:
            results = []
            for call in calls:
                self.check_cancelled()
                results.append(call())
            return results
        return cast("list[R]", self.gather_calls(calls, self.cancelled))

    def progress(self, done: float, total: float, message: str = "") -> None:
        """Report progress (done of total) for the front ends' progress bars."""
        self.report_progress(done, total, message)

    def publish(self, name: str, path: Path) -> None:
        """Announce a result file ("junit", "coverage", "metrics") for the front ends to show."""
        self.publish_artifact(name, path)

    def check_cancelled(self) -> None:
        """Raise `Cancelled` if the user asked to stop; call it between units of work."""
        if self.cancelled.is_set():
            raise Cancelled(f"{self.step_id} was cancelled")

    def value(self, name: str) -> str:
        """A resolved input value; a missing one is a bug in the step's declared inputs."""
        try:
            return self.values[name]
        except KeyError:
            raise StepError(f"step {self.step_id!r} did not declare the input {name!r}") from None

    def secret(self, value: str) -> str:
        """Mask `value` from now on (a generated password) and return it."""
        self.register_secret(value)
        return value


class Step(ABC):
    """A lab step. Subclasses set the class attributes and implement `run` and `verify`.

    Hooks must be safe to call again: `run` on a half-done unit finishes it, `rollback` on a
    clean one does nothing. They talk to the lab's resources only through `ctx.target`.
    """

    id: ClassVar[str]
    title: ClassVar[str]
    section: ClassVar[str] = "Infrastructure"
    summary: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    inputs: ClassVar[tuple[Field, ...]] = ()
    per_environment: ClassVar[bool] = False
    environment: ClassVar[str | None] = None
    """For a step that runs once: the one environment whose resources it works with (the dev
    loop works in "dev"), or None for a step that belongs to no environment."""
    manual: ClassVar[bool] = False
    actions: ClassVar[tuple[Action, ...]] = ()
    """What a person can do to the step's result besides running it (approve, reject): see
    `labtui.actions`. The engine calls `act` with one of them."""
    place: ClassVar[int] = 0
    """Where the step comes in its section, for steps in modules of their own: lower first;
    steps of one place keep the order of their module and of their lines in it."""

    @abstractmethod
    def run(self, ctx: StepContext) -> None:
        """Do the step's work. Journal a `Record` of every resource (`ctx.journal.record(...)`)
        before creating it.

        Raises:
            StepError: an expected failure, with a message for the attendee.
            Cancelled: when `ctx.cancelled` is set (via `ctx.check_cancelled()`).
        """

    @abstractmethod
    def verify(self, ctx: StepContext) -> Verdict:
        """Check, read-only, that the step's result exists and is right."""

    def plan(self, ctx: StepContext) -> list[Change]:
        """What `run` would do. The default derives it from `verify`: each failing check."""
        verdict = self.verify(ctx)
        return [
            Change("create", "check", check.name, check.message) for check in verdict.failed
        ]

    def forced_plan(self, ctx: StepContext) -> list[Change]:
        """What a forced run (`--force`, the app's R) would do: `run` even when verify holds.
        The default is `plan`, right for a step whose run leaves what exists as it is; a
        step whose run redoes work (retrains, rebuilds) says so here."""
        return self.plan(ctx)

    def rollback(self, ctx: StepContext) -> None:
        """Undo the journal newest-first: each entry's record removes what it names."""
        for entry in reversed(ctx.journal.entries()):
            ctx.check_cancelled()
            entry.record.undo(ctx)
            ctx.journal.forget(entry)

    def act(self, ctx: StepContext, action: str, inputs: Mapping[str, str]) -> None:
        """Do one of `actions` as a person: `action` is its name, `inputs` its checked
        inputs (`as`, `comment` …). The engine verifies the step afterwards.

        Raises:
            StepError: it cannot be done now (nothing to approve yet, not a reviewer), with
                what to do instead.
        """
        raise StepError(f"step {self.id!r} offers no {action!r} action")

    def pipeline_run(self, ctx: StepContext) -> PipelineRun | None:
        """The pipeline run this step follows (its latest), for a front end to show live;
        None when it has none yet. Read-only, like `verify`: it may be called at any time,
        also while the step runs. A step that runs no pipeline keeps this default.

        Raises:
            TargetError: the target could not say (a front end shows no run then).
        """
        return None

    def solve(self, ctx: StepContext) -> None:
        """Fill in a reference answer for a manual step (proctors and `--solve`)."""
        raise StepError(f"step {self.id!r} has no reference answer to fill in")

    @classmethod
    def guide(cls) -> str:
        """The lab's text for this step, in Markdown: what this part of the lab teaches and
        why, then "By hand", the commands an attendee would type. It is read from
        `guides/<id>.md` in the package of the step's module (package data, so a third-party
        step ships its own); "" when there is none. `{{input-name}}` marks where
        `labtui.guides.render` puts the attendee's values."""
        from importlib import resources

        module = cls.__module__
        package = module.rpartition(".")[0] if "." in module else module
        try:
            guide = resources.files(package).joinpath("guides", f"{cls.id}.md")
            return guide.read_text(encoding="utf-8")
        except (OSError, ModuleNotFoundError, TypeError, UnicodeDecodeError):
            return ""  # no guide shipped (or no package to ship one in)

    @classmethod
    def environments(cls) -> Sequence[str | None]:
        """The environments this step runs in: each lab environment, or just once (None)."""
        if cls.per_environment:
            return ENVIRONMENTS
        return (cls.environment,)

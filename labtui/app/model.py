"""What the app works on, without any widget: the lab (catalogue, workspace, values, engine),
what is selected in the step tree, and the status word of each unit.

Opening a workspace another process holds gives a read-only `Lab` that names the holder and
has no engine, so nothing can be run or rolled back from it.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labtui.catalog import Catalog, Unit
from labtui.engine import Engine
from labtui.masking import Masker
from labtui.session import Session, SessionOptions, with_targets_options
from labtui.state import StatusRecord, Workspace, WorkspaceLocked
from labtui.status import UnitState, unit_state
from labtui.step import Field, Step, StepError
from labtui.targets.base import PipelineRun, Pipelines, TargetError
from labtui.values import Answers, Resolver, load_answers, parse_set_args

STATUS_WORDS: tuple[str, ...] = (
    "not done", "running", "done", "partial", "failed", "drift", "interrupted", "needs input",
    "manual")
"""Every status the tree shows, exactly as the attendee reads it: the engine's words
(`labtui.status.UnitState`), and the app's own "partial" (a step with environments, some done
and some not yet), "needs input" and "manual" for a unit that is not done."""

STATUS_GLYPHS: dict[str, str] = {
    "not done": "○", "running": "◐", "done": "✓", "partial": "◔", "failed": "✗",
    "drift": "!", "interrupted": "⊘", "needs input": "✎", "manual": "☞",
}


def unit_word(state: UnitState | None, *, running: bool, manual: bool,
              needs_input: bool) -> str:
    """The word the tree shows for one unit: the one place in the app that decides it.

    A unit this app is running is "running"; else where the engine says it stands (`state`):
    "done", "failed", "drift" (it was done and no longer verifies), "interrupted" (its run was
    stopped or killed), "running" (another process works on it). A unit that is not done is
    "manual" (the attendee does it), "needs input" (a value is missing, or typed but invalid),
    or "not done".
    """
    if running:
        return "running"
    if state is not None and state != UnitState.NOT_DONE:
        return str(state)
    if manual:
        return "manual"
    if needs_input:
        return "needs input"
    return "not done"


UnitKey = tuple[str, "str | None"]


def unit_key(unit: Unit) -> UnitKey:
    return (unit.id, unit.env)


@dataclass(frozen=True)
class Selection:
    """A node of the step tree: a step (every environment it runs in) or one environment."""

    step: Step
    env: str | None = None

    @property
    def units(self) -> list[Unit]:
        if self.env is None:
            return [Unit(self.step, env) for env in self.step.environments()]
        return [Unit(self.step, self.env)]

    @property
    def per_environment_parent(self) -> bool:
        return self.step.per_environment and self.env is None

    @property
    def label(self) -> str:
        return f"{self.step.id} ({self.env})" if self.env else self.step.id

    @property
    def values_env(self) -> str | None:
        """The environment whose values the form shows: the node's, or the one environment the
        step works in. A per-environment step's own node shows only shared values, resolved
        as its first environment sees them (derived ones need an environment)."""
        if self.env is not None:
            return self.env
        return self.step.environments()[0]

    def fields(self) -> tuple[Field, ...]:
        """The inputs the form edits here: a per-environment step's own node leaves out the
        values that differ by environment (its dev / pipeline nodes show them)."""
        if self.per_environment_parent:
            return tuple(f for f in self.step.inputs if not f.per_environment)
        return self.step.inputs


@dataclass(frozen=True)
class Output:
    """One value a step handed on. A secret one never carries its value out of the workspace."""

    name: str
    value: str
    secret: bool


@dataclass(frozen=True)
class Created:
    """What a unit made: the values it handed on, and (kind, ref) of each resource it holds."""

    outputs: tuple[Output, ...]
    resources: tuple[tuple[str, str], ...]

    def __bool__(self) -> bool:
        return bool(self.outputs or self.resources)


@dataclass(frozen=True)
class Section:
    """A section node of the step tree: every unit of its steps, in catalogue order."""

    name: str
    steps: tuple[Step, ...]

    @property
    def units(self) -> list[Unit]:
        return [unit for step in self.steps for unit in Selection(step).units]

    @property
    def label(self) -> str:
        return self.name


TreeNodeData = Selection | Section
"""What a node of the step tree stands for: a step (or one environment), or a section."""


def holder_text(holder: Mapping[str, Any]) -> str:
    """One line naming the process that holds a workspace."""
    started = holder.get("started")
    since = time.strftime("%H:%M:%S", time.localtime(started)) if isinstance(
        started, (int, float)) else "?"
    return (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
            f"({holder.get('command', '?')}, since {since})")


class _Unheard:
    """A log for reading hooks: nothing they say is shown (what they read is)."""

    def __call__(self, message: str) -> None:
        return None

    def warn(self, message: str) -> None:
        return None


class Lab:
    """The catalogue, the workspace, the values and — unless read-only — the engine."""

    def __init__(self, options: SessionOptions, catalog: Catalog, workspace: Workspace,
                 resolver: Resolver, masker: Masker, *, session: Session | None = None,
                 holder: Mapping[str, Any] | None = None) -> None:
        self.options = options
        self.catalog = catalog
        self.workspace = workspace
        self.resolver = resolver
        self.masker = masker
        self.session = session
        self.holder = dict(holder) if holder is not None else None
        self._resolved: dict[str | None, dict[str, str]] = {}
        self.drafts: dict[tuple[str, str | None], str] = {}
        """(input name, environment or None for shared) → an invalid value typed in a form."""

    @classmethod
    def open(cls, options: SessionOptions, *, catalog: Catalog | None = None) -> Lab:
        """Open the workspace for work, or read-only when another process holds it.

        Raises:
            WorkspaceError, ValuesError, CatalogError: as `Session` does.
        """
        catalog = catalog or Catalog.discover()
        try:
            session = Session(options, catalog=catalog)
        except WorkspaceLocked as locked:
            return cls._read_only(options, catalog, locked.holder)
        return cls(options, catalog, session.workspace, session.resolver, session.masker,
                   session=session)

    @classmethod
    def _read_only(cls, options: SessionOptions, catalog: Catalog,
                   holder: Mapping[str, Any]) -> Lab:
        workspace = Workspace(options.workspace, read_only=True)
        fields = with_targets_options(catalog.fields(), [options.target])
        answers = load_answers(options.values_file, fields) if options.values_file else Answers()
        masker = Masker()
        resolver = Resolver(fields, set_args=parse_set_args(options.set_values, fields),
                            environ=options.environ, answers=answers, workspace=workspace,
                            masker=masker)
        return cls(options, catalog, workspace, resolver, masker, holder=holder)

    @property
    def read_only(self) -> bool:
        return self.session is None

    @property
    def engine(self) -> Engine:
        """The engine; a read-only lab has none (the app never offers actions then)."""
        if self.session is None:
            raise RuntimeError("the workspace is open read-only")
        return self.session.engine

    @property
    def artifacts(self) -> Path:
        return self.workspace.path / "artifacts"

    def published(self, unit: Unit) -> dict[str, Path]:
        """The result files a unit published (`ctx.publish`), by name: "junit", "coverage",
        "metrics" or any other. Read from the workspace, so they are there after a restart;
        never guessed from where a step might have written them."""
        return {name: record.path
                for name, record in self.workspace.artifacts(unit.id, unit.env).items()}

    def created(self, unit: Unit) -> Created:
        """What a unit made: its outputs (secret ones without their value) and the resources
        its journal holds."""
        outputs = tuple(Output(name, "" if secret else self.masker.redact(value), secret)
                        for name, (value, secret) in sorted(
                            self.workspace.outputs(unit.id, unit.env).items()))
        # As stored: an entry whose record does not fit its kind is still something it made.
        resources = tuple((row.kind, self.masker.redact(row.ref))
                          for row in self.workspace.journal_rows()
                          if row.step == unit.id and row.env == unit.env)
        return Created(outputs, resources)

    # -- pipeline runs ---------------------------------------------------------------------

    @staticmethod
    def follows_pipeline(unit: Unit) -> bool:
        """Whether the unit's step follows a pipeline run (`Step.pipeline_run`)."""
        return type(unit.step).pipeline_run is not Step.pipeline_run

    def pipeline_run(self, unit: Unit) -> tuple[Pipelines, PipelineRun] | None:
        """The pipeline run the unit's step follows, with the port that reads it; None when
        it has none, the workspace is open read-only, or the target cannot say now (the
        step's page then shows no run; a run, verify or the log says why). A step that never
        ran has defined no pipeline yet: the target is not asked (asking would make a
        sandbox a fresh workspace does not have yet)."""
        if self.session is None or not self.follows_pipeline(unit) or \
                self.record(unit) is None:
            return None
        ctx = self.engine.context(unit, _Unheard())
        try:
            run = unit.step.pipeline_run(ctx)
        except (TargetError, StepError):
            return None
        return (ctx.target.pipelines, run) if run is not None else None

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        else:
            self.workspace.close()

    # -- status ----------------------------------------------------------------------------

    def record(self, unit: Unit) -> StatusRecord | None:
        return self.workspace.status(unit.id, unit.env)

    def status_word(self, unit: Unit, running: Collection[UnitKey] = ()) -> str:
        """The unit's status as the tree shows it (see `unit_word`)."""
        is_running = unit_key(unit) in running
        state = None if is_running else unit_state(self.workspace, unit)
        return unit_word(state, running=is_running, manual=unit.step.manual,
                         needs_input=not is_running and self.needs_input(unit))

    def needs_input(self, unit: Unit) -> bool:
        """Whether a value the unit needs is missing or invalid — saved, or typed in a form
        and not saved because it is invalid (a draft). Values are resolved once per
        environment and kept until `forget_values` (the tree asks for every unit at once)."""
        resolved = self._resolved.get(unit.env)
        if resolved is None:
            resolved = self._resolved[unit.env] = self.resolver.resolve(unit.env).values
        for fld in unit.step.inputs:
            if (fld.name, None) in self.drafts or (fld.name, unit.env) in self.drafts:
                return True
            value = resolved.get(fld.name)
            if value is None or value == "":
                if fld.required:
                    return True
            elif fld.check(value) is not None:
                return True
        return False

    def set_draft(self, name: str, scope: str | None, value: str | None) -> None:
        """A value typed in a form that is not valid, so not saved (None: it is valid now).
        Until it is fixed, the steps that use it need input."""
        if value is None:
            self.drafts.pop((name, scope), None)
        else:
            self.drafts[(name, scope)] = value

    def forget_values(self) -> None:
        """Values changed: resolve them again next time."""
        self._resolved.clear()

    def selection_word(self, selection: Selection, running: Collection[UnitKey] = (), *,
                       known: Mapping[UnitKey, str] | None = None) -> str:
        """One word for a tree node: for a step with environments, the most urgent of theirs
        (`known`: words already worked out, by unit)."""
        words = [known[unit_key(unit)] if known is not None and unit_key(unit) in known
                 else self.status_word(unit, running) for unit in selection.units]
        for word in ("running", "failed", "drift", "needs input"):
            if word in words:
                return word
        if all(word == "done" for word in words):
            return "done"
        if "done" in words:
            return "partial"
        if "manual" in words:
            return "manual"
        if "interrupted" in words:
            return "interrupted"
        return "not done"

    def progress(self) -> tuple[int, int]:
        """(units done, all units)."""
        statuses = self.workspace.statuses()
        units = self.catalog.units()
        done = sum(1 for unit in units
                   if (record := statuses.get(unit_key(unit))) and record.status == "done")
        return done, len(units)

    # -- identity --------------------------------------------------------------------------

    def identity(self) -> dict[str, str]:
        """What the banner shows: the target's identity and the lab's tenant / subscription.
        Opening the target may take a while (the azure one signs in), so call it off the UI."""
        shown: dict[str, str] = {}
        if self.session is not None:
            shown.update(self.session.engine.target.identity())
        values = self.resolver.resolve(None).values
        for name in ("tenant-id", "subscription-id"):
            key = name.removesuffix("-id")
            if name in values and key not in shown:
                shown[key] = values[name]
        shown.pop("target", None)
        return shown

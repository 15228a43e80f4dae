"""Fleet operations for a proctor: the lab's rollback, run and verify applied to every attendee
of a roster at once, with bounded parallelism.

A thin door onto the engine: for each attendee it opens a `Session` (its own locked
workspace, value resolver and masker, so values never leak from one attendee to another) and
asks that session's engine what to take on and to do it; one attendee failing never stops the
others. Front-end neutral: the CLI (`labtui proctor …`) and the app's proctor screen both
build a `Fleet` from a `Roster` and listen to its `FleetEvent`s from worker threads; nothing
here prints.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labtui.catalog import Catalog, CatalogError, Unit
from labtui.engine import Outcome, Result, units_through
from labtui.events import Event
from labtui.events import Retrying as UnitRetrying
from labtui.masking import Masker
from labtui.proctor.events import (
    AttendeeFinished,
    AttendeeStarted,
    FleetListener,
    Retrying,
    UnitEvent,
)
from labtui.proctor.export import export_bundle
from labtui.proctor.results import (
    AttendeeOutcome,
    AttendeeResult,
    Cell,
    CellState,
    FleetSummary,
    Grid,
    GridRow,
    recorded_row,
    verified_cell,
)
from labtui.proctor.roster import Attendee, Roster
from labtui.retry import RetryPolicy
from labtui.schedule import DEFAULT_PARALLEL as ENGINE_PARALLEL
from labtui.session import Session, SessionOptions, with_targets_options
from labtui.targets.errors import TargetError
from labtui.values import (
    Answers,
    Resolver,
    ValuesError,
    load_answers,
    mask_stored_secrets,
    parse_set_args,
)
from labtui.workspace import Workspace, WorkspaceError, WorkspaceLocked

DEFAULT_PARALLEL = 64
"""Workers at once. Each mostly waits on the cloud, so a whole room (20-60) runs in one wave."""


@dataclass
class FleetOptions:
    """How to work on the attendees: what `labtui proctor` was given on its command line."""

    target: str = "local"
    """The target of attendees whose roster row names none."""
    values_file: Path | None = None
    """Shared answers (TOML) for every attendee; a roster cell overrides it."""
    set_values: Sequence[str] = ()
    """Shared `--set key=value` values (they beat the roster, as on the command line)."""
    parallel: int = DEFAULT_PARALLEL
    """Attendees worked on at once."""
    force_unlock: bool = False
    """Take over a workspace whose lock holder is gone."""
    retries: int = 3
    """Further attempts of a unit that failed for a passing reason (the target raised
    `Transient`: throttling, a busy service); the engine's retry policy makes them."""
    backoff: float = 1.0
    """Seconds before the first retry; doubled (with jitter) for each further one."""
    environ: Mapping[str, str] | None = None
    """The environment (default: this process's) that holds shared and per-attendee secrets."""
    command: str = "labtui proctor"
    """The command named in each workspace's lock while it is held."""


class Fleet:
    """Reset, provision, check or export every attendee of a roster.

    Each operation works on the attendees in parallel (at most `options.parallel` at once), on
    each attendee's units in order, and returns a result per attendee; an attendee that fails
    never stops the others. Events go to `listener` from worker threads. `cancel()` (from any
    thread) stops at the next safe point; attendees not started are reported cancelled.
    """

    def __init__(self, roster: Roster, options: FleetOptions | None = None, *,
                 catalog: Catalog | None = None, masker: Masker | None = None) -> None:
        self.roster = roster
        self.options = options or FleetOptions()
        self.catalog = catalog or Catalog.discover()
        self.masker = masker or Masker()
        self.environ = dict(os.environ if self.options.environ is None else self.options.environ)
        self._cancelled = threading.Event()
        self._running: set[Session] = set()
        self._running_lock = threading.Lock()
        self._tries: dict[str, int] = {}
        """Attendee -> the most tries one of their units took in the current operation."""
        self._retry = RetryPolicy(attempts=max(0, self.options.retries) + 1,
                                  first_delay=max(0.0, self.options.backoff))
        # The targets' options are values too: shared in the answers file, or per attendee.
        self.fields = with_targets_options(
            self.catalog.fields(), {self.options.target, *(a.target for a in roster if a.target)})
        fields = self.fields
        # Checked once here, so a bad answers file stops everything before anyone starts.
        self._answers = (load_answers(self.options.values_file, fields)
                         if self.options.values_file is not None else Answers())
        shared = parse_set_args(self.options.set_values, fields)
        per_attendee = {"prefix"}.union(*(a.values for a in roster), *(a.secret_vars
                                                                     for a in roster))
        clashes = sorted(set(shared) & per_attendee)
        if clashes:
            # --set beats every other source: it would give the whole room one value.
            raise ValuesError([f"--set {name}: the roster gives each attendee their own "
                               f"{name}; change it there" for name in clashes])
        self._shared = shared
        # Every attendee's secrets are masked in what the room is shown (the proctor's own
        # lines and summaries), as each session masks its own.
        Resolver(self.fields, set_args=shared, environ=self.environ,
                 answers=self._answers).mask_with(self.masker)
        for attendee in roster:
            self._values_of(attendee).mask_with(self.masker)

    # -- operations ------------------------------------------------------------------------

    def reset(self, listener: FleetListener | None = None) -> FleetSummary:
        """Roll back every step for every attendee (newest first); a clean one is a no-op."""
        return self._each("reset", len(self.catalog.units()), self._reset, listener)

    def provision(self, through: str, listener: FleetListener | None = None) -> FleetSummary:
        """Run the lab up to and including step `through` for everyone (a hot start); manual
        steps on the way get their reference answer.

        Raises:
            CatalogError: no such step.
        """
        # The engine decides what a hot start takes on; this is its count for progress.
        units = units_through(self.catalog, through)
        return self._each("provision", len(units),
                          lambda attendee, emit: self._provision(attendee, through, emit),
                          listener)

    def status(self, listener: FleetListener | None = None,
               step_ids: Sequence[str] | None = None) -> Grid:
        """Verify every unit (or those of `step_ids`) for everyone: the attendee-by-unit grid.

        An attendee whose own session holds the workspace is not disturbed: their row shows
        what their workspace last recorded.
        """
        units = tuple(self.catalog.units(step_ids))
        rows: dict[str, GridRow] = {}

        def check(attendee: Attendee, emit: FleetListener) -> AttendeeResult:
            row = self._status(attendee, units, emit)
            rows[attendee.id] = row
            outcome, message = row.describe(units)
            where = "" if row.live else f"; recorded (in use by {_holder_text(row.holder)})"
            return AttendeeResult(attendee, "status", AttendeeOutcome(outcome),
                                  self._mask(message + where, attendee))

        summary = self._each("status", len(units), check, listener)
        ordered = []
        for result in summary.attendees:
            row = rows.get(result.attendee.id)
            if row is None:  # cancelled before it started, or failed before checking
                row = GridRow(result.attendee, tuple(Cell(CellState.TODO) for _ in units),
                              error=result.message)
            ordered.append(row)
        return Grid(units, tuple(ordered))

    def recorded(self, step_ids: Sequence[str] | None = None) -> Grid:
        """What every attendee's workspace last recorded, read without locking it and without
        verifying anything: a first look that is there at once (status verifies)."""
        units = tuple(self.catalog.units(step_ids))
        rows = []
        for attendee in self.roster:
            problem = workspace_problem(attendee)
            if problem:
                rows.append(GridRow(attendee, tuple(Cell(CellState.TODO) for _ in units),
                                    error=problem))
            elif not (attendee.workspace / "state.db").exists():
                rows.append(GridRow(attendee, tuple(Cell(CellState.TODO, "no workspace yet")
                                                    for _ in units)))
            else:
                try:
                    rows.append(recorded_row(attendee, units, {}, live=True))
                except (WorkspaceError, sqlite3.Error) as exc:
                    rows.append(GridRow(attendee, tuple(Cell(CellState.TODO) for _ in units),
                                        error=self._mask(str(exc), attendee)))
        return Grid(units, tuple(rows))

    def export(self, out: Path, *, archive: bool = True,
               listener: FleetListener | None = None) -> FleetSummary:
        """Write a masked log bundle per attendee under `out`: `<attendee>.tar.gz` (or a
        folder when `archive` is False) with the state summary, journal, every run's log and
        the workspace's log files. Reads workspaces without locking them."""
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self._each("export", 1,
                          lambda attendee, emit: self._export(attendee, out, archive, emit),
                          listener)

    def act(self, step_id: str, action: str, inputs: Mapping[str, str],
            listener: FleetListener | None = None, *,
            person_from: str = "") -> FleetSummary:
        """Do a step's action (approve, reject) for every attendee, as a person would on
        their step's page: the engine's `act`, journaled in each workspace and verified.

        Args:
            step_id: the step whose action it is (release-pipeline).
            action: its name (`labtui.actions`).
            inputs: the action's inputs (`as`, `comment`) for everyone.
            person_from: with no `as` in `inputs`, the input each attendee's own value of
                this name gives (their release manager: `approver`).

        Raises:
            CatalogError: no such step.
        """
        self.catalog.get(step_id)
        return self._each(action, 1, lambda attendee, emit: self._act(
            attendee, step_id, action, inputs, person_from, emit), listener)

    def cancel(self) -> None:
        """Stop at the next safe point: running steps stop cleanly, others never start."""
        self._cancelled.set()
        with self._running_lock:
            for session in self._running:
                session.engine.cancel()

    # -- plumbing --------------------------------------------------------------------------

    def _each(self, action: str, units: int,
              work: Callable[[Attendee, FleetListener], AttendeeResult],
              listener: FleetListener | None) -> FleetSummary:
        started = time.monotonic()
        emit = listener or (lambda event: None)
        workers = max(1, min(self.options.parallel, len(self.roster)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="proctor") as pool:
            futures = [pool.submit(self._guarded, attendee, action, units, work, emit)
                       for attendee in self.roster]
            results = tuple(future.result() for future in futures)
        return FleetSummary(action, results, time.monotonic() - started)

    def _guarded(self, attendee: Attendee, action: str, units: int,
                 work: Callable[[Attendee, FleetListener], AttendeeResult],
                 emit: FleetListener) -> AttendeeResult:
        """Work on one attendee; whatever goes wrong becomes that attendee's result."""
        started = time.monotonic()
        if self._cancelled.is_set():
            result = AttendeeResult(attendee, action, AttendeeOutcome.CANCELLED,
                                    "not started (cancelled)")
        else:
            emit(AttendeeStarted(attendee.id, action, units))
            try:
                result = work(attendee, emit)
            except WorkspaceLocked as exc:
                result = AttendeeResult(attendee, action, AttendeeOutcome.LOCKED,
                                        f"not {_past(action)}: workspace in use by "
                                        f"{_holder_text(exc.holder)}")
            except ValuesError as exc:
                result = AttendeeResult(attendee, action, AttendeeOutcome.FAILED,
                                        self._mask("; ".join(exc.problems), attendee))
            except (WorkspaceError, TargetError, CatalogError) as exc:
                result = AttendeeResult(attendee, action, AttendeeOutcome.FAILED,
                                        self._mask(str(exc), attendee))
            except Exception as exc:  # a bug must cost one attendee, never the whole room
                result = AttendeeResult(attendee, action, AttendeeOutcome.FAILED,
                                        self._mask(f"unexpected error {type(exc).__name__}: "
                                                   f"{exc}", attendee))
        result = AttendeeResult(result.attendee, result.action, result.outcome, result.message,
                                result.results, result.attempts, time.monotonic() - started)
        emit(AttendeeFinished(attendee.id, action, result.outcome.value, result.message,
                              result.duration))
        return result

    def _mask(self, text: str, attendee: Attendee) -> str:
        masker = self._attendee_masker(attendee)
        return self.masker.redact(masker.redact(text))

    def _attendee_masker(self, attendee: Attendee) -> Masker:
        masker = Masker()
        self._values_of(attendee).mask_with(masker)
        return masker

    def _values_of(self, attendee: Attendee) -> Resolver:
        """The attendee's values as their session resolves them, without their workspace:
        what the roster row, the shared answers and the proctor's shell give them."""
        shared = self._answers
        answers = Answers(shared.path, {**shared.top, **attendee.values,
                                        **attendee.secrets(self.environ)}, shared.per_env)
        return Resolver(self.fields, set_args=self._shared, environ=self._environ_for(attendee),
                        answers=answers)

    def _environ_for(self, attendee: Attendee) -> dict[str, str]:
        """The environment an attendee's values resolve from: the proctor's, without the
        LABTUI_* variables of inputs the roster row gives (the row is about this attendee,
        a variable in the proctor's shell is about everyone)."""
        given = set(attendee.values) | set(attendee.secret_vars)
        fields = self.fields
        hidden = {fields[name].env_var for name in given if name in fields}
        hidden.add("LABTUI_PREFIX")
        return {key: value for key, value in self.environ.items() if key not in hidden}

    @contextmanager
    def _session(self, attendee: Attendee, action: str,
                 emit: FleetListener) -> Iterator[Session]:
        """The attendee's workspace, locked, with an engine whose events go to `emit`."""
        answers = {**attendee.values, **attendee.secrets(self.environ)}
        with self._running_lock:
            self._tries.pop(attendee.id, None)

        def forward(event: Event) -> None:
            if isinstance(event, UnitRetrying):
                # The engine's retry policy is the proctor's too: it says so per attendee.
                with self._running_lock:
                    self._tries[attendee.id] = max(self._tries.get(attendee.id, 1),
                                                   event.attempt + 1)
                label = f"{event.step} ({event.env})" if event.env else event.step
                emit(Retrying(attendee.id, label, event.attempt, event.delay, event.message))
            emit(UnitEvent(attendee.id, event))

        options = SessionOptions(
            workspace=attendee.workspace, target=attendee.target or self.options.target,
            values_file=self.options.values_file, set_values=self.options.set_values,
            environ=self._environ_for(attendee), extra_answers=answers,
            command=f"{self.options.command} {action} ({attendee.id})",
            force_unlock=self.options.force_unlock, retry=self._retry,
            # The room's concurrency is across attendees: each verifies at the run's width.
            parallel=ENGINE_PARALLEL,
        )
        session = Session(options, catalog=self.catalog, masker=self._attendee_masker(attendee),
                          listeners=[forward])
        with self._running_lock:
            self._running.add(session)
        try:
            if self._cancelled.is_set():
                session.engine.cancel()
            yield session
        finally:
            with self._running_lock:
                self._running.discard(session)
            session.close()

    def _check_prefix(self, session: Session, attendee: Attendee) -> str:
        """A workspace that remembers another prefix is not this attendee's (a roster row
        pointing at the wrong folder): touching it could remove someone else's resources."""
        stored = session.workspace.get_value("prefix", None)
        if stored is not None and stored != attendee.prefix:
            return (f"workspace {attendee.workspace} holds prefix {stored!r}, but the roster "
                    f"says {attendee.prefix!r} (line {attendee.line}): is the row pointing at "
                    "the wrong workspace? Fix the roster or the workspace, then try again")
        return ""

    def _tries_of(self, attendee: Attendee) -> int:
        """How many tries the attendee's most retried unit took (1: none was retried)."""
        with self._running_lock:
            return self._tries.pop(attendee.id, 1)

    # -- reset -----------------------------------------------------------------------------

    def _reset(self, attendee: Attendee, emit: FleetListener) -> AttendeeResult:
        unready = _unready(attendee, "reset", "remove", AttendeeOutcome.UNCHANGED)
        if unready is not None:
            return unready
        with self._session(attendee, "reset", emit) as session:
            wrong = self._check_prefix(session, attendee)
            if wrong:
                return AttendeeResult(attendee, "reset", AttendeeOutcome.FAILED, wrong)
            # The engine's whole-lab scope, as `--all --rollback` has it.
            units = session.engine.reset_scope()
            results = session.engine.rollback(units)
        return _reset_result(attendee, results, len(units), self._tries_of(attendee))

    # -- provision -------------------------------------------------------------------------

    def _provision(self, attendee: Attendee, through: str,
                   emit: FleetListener) -> AttendeeResult:
        problem = workspace_problem(attendee)
        if problem:
            return AttendeeResult(attendee, "provision", AttendeeOutcome.FAILED, problem)
        with self._session(attendee, "provision", emit) as session:
            wrong = self._check_prefix(session, attendee)
            if wrong:
                return AttendeeResult(attendee, "provision", AttendeeOutcome.FAILED, wrong)
            results = session.engine.run(session.engine.units_through(through),
                                         solve_manual=True)
            attempts = self._tries_of(attendee)
        outcomes = [r.outcome for r in results]
        failed = [r for r in results if not r.ok]
        if Outcome.CANCELLED in outcomes:
            outcome, message = AttendeeOutcome.CANCELLED, "cancelled; run provision again"
        elif failed:
            outcome, message = AttendeeOutcome.FAILED, failed[0].message
        elif all(o is Outcome.SKIPPED for o in outcomes):
            outcome = AttendeeOutcome.UNCHANGED
            message = f"already provisioned through {through}: nothing to do"
        else:
            ran = sum(1 for o in outcomes if o is Outcome.DONE)
            outcome = AttendeeOutcome.DONE
            message = (f"provisioned through {through}: {ran} done, "
                       f"{len(outcomes) - ran} already done")
        return AttendeeResult(attendee, "provision", outcome, message, tuple(results), attempts)

    # -- act -------------------------------------------------------------------------------

    def _act(self, attendee: Attendee, step_id: str, action: str, inputs: Mapping[str, str],
             person_from: str, emit: FleetListener) -> AttendeeResult:
        from labtui.actions import ActionError

        unready = _unready(attendee, action, action, AttendeeOutcome.FAILED)
        if unready is not None:
            return unready
        with self._session(attendee, action, emit) as session:
            wrong = self._check_prefix(session, attendee)
            if wrong:
                return AttendeeResult(attendee, action, AttendeeOutcome.FAILED, wrong)
            (unit,) = session.catalog.units([step_id])
            given = dict(inputs)
            if not given.get("as") and person_from:
                given["as"] = session.resolver.resolve(unit.env).values.get(person_from, "")
            try:
                result = session.engine.act(unit, action, given)
            except ActionError as exc:
                return AttendeeResult(attendee, action, AttendeeOutcome.FAILED,
                                      self._mask("; ".join(exc.problems), attendee))
            attempts = self._tries_of(attendee)
        if result.outcome is Outcome.CANCELLED:
            return AttendeeResult(attendee, action, AttendeeOutcome.CANCELLED,
                                  f"cancelled; {action} again", (result,), attempts)
        who = given.get("as", "")
        return AttendeeResult(
            attendee, action, AttendeeOutcome.DONE if result.ok else AttendeeOutcome.FAILED,
            self._mask(f"{_past(action)} as {who}: {result.message}" if result.ok
                       else result.message, attendee), (result,), attempts)

    # -- status ----------------------------------------------------------------------------

    def _status(self, attendee: Attendee, units: Sequence[Unit],
                emit: FleetListener) -> GridRow:
        problem = workspace_problem(attendee)
        if problem:
            return GridRow(attendee, tuple(Cell(CellState.TODO) for _ in units), error=problem)
        if not (attendee.workspace / "state.db").exists():
            return GridRow(attendee, tuple(Cell(CellState.TODO, "no workspace yet")
                                           for _ in units))
        try:
            with self._session(attendee, "status", emit) as session:
                return self._verified_row(attendee, session, units)
        except WorkspaceLocked as exc:
            return recorded_row(attendee, units, exc.holder)

    def _verified_row(self, attendee: Attendee, session: Session,
                      units: Sequence[Unit]) -> GridRow:
        wrong = self._check_prefix(session, attendee)
        if wrong:
            return GridRow(attendee, tuple(Cell(CellState.TODO) for _ in units), error=wrong)
        engine = session.engine
        last = max((r.finished or r.started for r in session.workspace.runs()), default=None)
        before = {(u.id, u.env): engine.status(u) for u in units}
        cells: dict[tuple[str, str | None], Cell] = {}
        checkable = []
        for unit in units:
            problems = session.resolver.problems(unit.step.inputs, unit.env)
            if problems:
                needs = tuple(fld.name for fld in unit.step.inputs
                              if session.resolver.problems([fld], unit.env))
                cells[(unit.id, unit.env)] = Cell(
                    CellState.NEEDS_INPUT, self._mask("; ".join(problems), attendee), needs)
            else:
                checkable.append(unit)
        for result in engine.verify(checkable):
            key = (result.unit.id, result.unit.env)
            record = session.workspace.status(result.unit.id, result.unit.env)
            cells[key] = verified_cell(result, before[key], record.message if record else "")
        return GridRow(attendee, tuple(cells[(u.id, u.env)] for u in units),
                       last_activity=last)

    # -- export ----------------------------------------------------------------------------

    def _export(self, attendee: Attendee, out: Path, archive: bool,
                emit: FleetListener) -> AttendeeResult:
        unready = _unready(attendee, "export", "export", AttendeeOutcome.UNCHANGED)
        if unready is not None:
            return unready
        masker = self._attendee_masker(attendee)
        with Workspace(attendee.workspace, read_only=True) as workspace:
            try:
                mask_stored_secrets(masker, workspace)
            except WorkspaceError as exc:
                raise WorkspaceError(f"{exc}; nothing exported, as its secrets could not be "
                                     "masked") from None

            def redact(text: str) -> str:
                return self.masker.redact(masker.redact(text))

            exported = export_bundle(attendee, workspace, self.catalog, out, archive=archive,
                                     redact=redact)
        runs = exported.runs
        return AttendeeResult(attendee, "export", AttendeeOutcome.DONE,
                              f"exported {runs} run log{'s' if runs != 1 else ''} to "
                              f"{exported.destination}")


def workspace_problem(attendee: Attendee) -> str:
    """Why the roster's workspace path cannot be this attendee's folder, or "" if it can
    (a folder, or nothing there yet)."""
    path = attendee.workspace
    if path.exists() and not path.is_dir():
        return (f"workspace {path} is a file, not a folder (roster line {attendee.line}): "
                "point the row's workspace at a folder")
    state = path / "state.db"
    if path.is_dir() and state.exists() and not state.is_file():
        return f"workspace {path} holds a state.db that is not a file: is it a workspace?"
    return ""


def _unready(attendee: Attendee, action: str, verb: str,
             without_workspace: AttendeeOutcome) -> AttendeeResult | None:
    """Why `action` cannot touch the attendee's workspace: it is not usable (failed), or
    there is none yet (`without_workspace`: "nothing to `verb`"); None when it is there."""
    problem = workspace_problem(attendee)
    if problem:
        return AttendeeResult(attendee, action, AttendeeOutcome.FAILED, problem)
    if not (attendee.workspace / "state.db").exists():
        return AttendeeResult(attendee, action, without_workspace,
                              f"no workspace yet: nothing to {verb}")
    return None


def _past(action: str) -> str:
    return {"reset": "reset", "provision": "provisioned", "status": "checked",
            "export": "exported", "approve": "approved",
            "reject": "rejected"}.get(action, action)


def _holder_text(holder: Mapping[str, Any]) -> str:
    started = holder.get("started")
    since = (f", since {time.strftime('%H:%M:%S', time.localtime(started))}"
             if isinstance(started, (int, float)) else "")
    return (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
            f"({holder.get('command', '?')}{since})")


def _reset_result(attendee: Attendee, results: Sequence[Result], total: int,
                  attempts: int) -> AttendeeResult:
    failed = [r for r in results if r.outcome is Outcome.FAILED]
    removed = [r for r in results if r.outcome is Outcome.ROLLED_BACK]
    if any(r.outcome is Outcome.CANCELLED for r in results) or len(results) < total:
        outcome, message = AttendeeOutcome.CANCELLED, "cancelled; reset again to finish"
    elif failed:
        outcome = AttendeeOutcome.FAILED
        message = "; ".join(r.message for r in failed)
    elif removed:
        outcome = AttendeeOutcome.DONE
        message = "reset: " + ", ".join(f"{r.unit.label} {r.message}" for r in reversed(removed))
    else:
        outcome, message = AttendeeOutcome.UNCHANGED, "already clean: nothing to remove"
    return AttendeeResult(attendee, "reset", outcome, message, tuple(results), attempts)

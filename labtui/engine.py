"""The engine: runs, verifies, rolls back and plans units of work, and tells front ends.

The headless console, the app and the proctor all drive the lab through an `Engine`; none of
them calls a step hook directly. The engine owns the order of things (values before work,
requires before a run, verify before and after a run), the journal, the run history, masking of
everything that leaves a hook, and cooperative cancellation.

On a cloud a unit's time is mostly waiting on round trips, so units that do not need each other
run (verify, roll back) at once, bounded by `parallel` (`labtui.schedule`), and a hook makes its
independent port calls together through `StepContext.gather` (`labtui.gather`). What the user
sees stays in the lab's order: results come back in run (or rollback) order.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Literal

from labtui.catalog import Catalog, Unit
from labtui.events import (
    ArtifactReady,
    CheckResult,
    Event,
    Heartbeat,
    Listener,
    LogLine,
    PlannedChange,
    Progress,
    Retrying,
    StepFinished,
    StepStarted,
)
from labtui.gather import DEFAULT_CALLS, CallPool
from labtui.journal import Journal, JournalEntry, Record
from labtui.masking import Masker
from labtui.plain_text import strip_escapes
from labtui.retry import RetryCancelled, RetryPolicy
from labtui.schedule import DEFAULT_PARALLEL, schedule
from labtui.state import Workspace, WorkspaceError
from labtui.status import UnitState, unit_state
from labtui.step import (
    Cancelled,
    Change,
    Check,
    Logger,
    StepContext,
    StepError,
    Verdict,
)
from labtui.targets.base import Target, TargetError, Transient
from labtui.targets.operations import PendingOperation, StartedOperation, listening
from labtui.targets.ownership import JournalMirror, MirroredEntry, NotOwner
from labtui.uninstalled import uninstalled_unit
from labtui.values import Resolver, ValuesError


class Outcome(StrEnum):
    """How one unit of work ended. A verify that fails is DRIFT for a unit that was done, and
    NOT_DONE for one that never was (or was rolled back, or failed)."""

    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    DRIFT = "drift"
    NOT_DONE = "not done"
    CANCELLED = "cancelled"
    ROLLED_BACK = "rolled-back"
    CLEAN = "clean"
    PLANNED = "planned"


class Status(StrEnum):
    """The recorded status of a unit in the workspace."""

    NOT_STARTED = "not-started"
    DONE = "done"
    FAILED = "failed"
    DRIFT = "drift"
    CANCELLED = "cancelled"


class RequirementsError(Exception):
    """A unit's requirements are not done; `missing` names them."""

    def __init__(self, unit: Unit, missing: Sequence[Unit]) -> None:
        self.unit = unit
        self.missing = list(missing)
        names = ", ".join(repr(m.label) for m in missing)
        super().__init__(
            f"step {unit.label!r} needs {names} done first: run "
            f"{'it' if len(missing) == 1 else 'them'}, or add --with-requires"
        )


class NotManual(Exception):
    """A solve was asked of steps none of which is manual (and nothing comes first)."""

    def __init__(self, units: Sequence[Unit]) -> None:
        self.units = list(units)
        names = ", ".join(dict.fromkeys(unit.id for unit in units))
        these = "is not a manual step" if len(self.units) == 1 else "are not manual steps"
        super().__init__(f"{names} {these}: --solve is for manual steps (like write-test), "
                         "or with --with-requires when one comes first")


@dataclass(frozen=True)
class SolveScope:
    """What a solve takes on: `action` "solve" fills in the reference answer of `units` (the
    manual ones chosen) and verifies them; "run" runs `units` (with what they need) and
    solves each manual step it meets instead of showing its instructions."""

    action: Literal["solve", "run"]
    units: tuple[Unit, ...]
    """In the order the action takes them on (a summary names those it did not reach)."""


@dataclass
class Result:
    """The result of one action on one unit."""

    unit: Unit
    action: str
    outcome: Outcome
    message: str = ""
    checks: list[Check] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.DONE, Outcome.SKIPPED, Outcome.ROLLED_BACK,
                                Outcome.CLEAN, Outcome.PLANNED)


EXPECTED_ERRORS = (StepError, TargetError, WorkspaceError, ValuesError)


class _Journal(Journal):
    """A unit's journal in state.db, mirrored into the target's own record when it keeps one
    (written after state.db and before the resource is made; dropped after state.db)."""

    def __init__(self, workspace: Workspace, unit: Unit,
                 mirror: JournalMirror | None = None) -> None:
        self._workspace, self._unit, self._mirror = workspace, unit, mirror

    def record(self, record: Record) -> JournalEntry:
        entry = self._workspace.journal_record(self._unit.id, self._unit.env, record)
        if self._mirror is not None:
            self._mirror.record(MirroredEntry(
                self._unit.id, self._unit.env, record.kind, record.ref,
                json.dumps(record.payload(), sort_keys=True), time.time()))
        return entry

    def entries(self) -> list[JournalEntry]:
        return self._workspace.journal_entries(self._unit.id, self._unit.env)

    def forget(self, entry: JournalEntry) -> None:
        self._workspace.journal_forget(entry.seq)
        if self._mirror is not None:
            self._mirror.forget(self._unit.id, self._unit.env, entry.kind, entry.ref)


class _JournaledOperations:
    """Journals each long-running operation a port call starts (`labtui.targets.operations`)
    and forgets it once the call has seen it end: an entry left names one to resume."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def started(self, operation: StartedOperation) -> None:
        self._journal.record(PendingOperation(operation.resource, operation.action,
                                              operation.token))

    def ended(self, operation: StartedOperation) -> None:
        pending = PendingOperation(operation.resource, operation.action, operation.token)
        for entry in self._journal.entries():
            if entry.kind == pending.kind and entry.ref == pending.ref:
                self._journal.forget(entry)


class _Outputs:
    def __init__(self, workspace: Workspace, unit: Unit,
                 register_secret: Callable[[str], None]) -> None:
        self._workspace, self._unit, self._register = workspace, unit, register_secret

    def set(self, name: str, value: str, *, secret: bool = False) -> None:
        if secret:  # a secret the step learnt at run time, as `ctx.register_secret` takes
            self._register(value)
        self._workspace.set_output(self._unit.id, self._unit.env, name, value, secret=secret)

    def get(self, name: str, *, step: str | None = None, env: str | None = None) -> str | None:
        return self._workspace.get_output(step or self._unit.id, env or self._unit.env, name)


class _RunLog:
    """The log of one hook call: masks, emits LogLine events and keeps the lines in the run
    history, flushed in batches so a chatty step does not write the database per line."""

    FLUSH_LINES = 200
    FLUSH_SECONDS = 0.5

    def __init__(self, engine: Engine, unit: Unit, run_id: int) -> None:
        self._engine, self._unit, self._run_id = engine, unit, run_id
        self._pending: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()
        self._flushed = time.monotonic()
        self.last_activity = time.monotonic()

    def __call__(self, message: str) -> None:
        self._write(message, "info")

    def warn(self, message: str) -> None:
        self._write(message, "warning")

    def record(self, message: str, level: str = "warning") -> None:
        """Keep `message` in the run history only (the front ends show it another way)."""
        self._write(message, level, emit=False)

    def _write(self, message: str, level: str, *, emit: bool = True) -> None:
        # Escapes go first: a colour code inside a secret would otherwise hide it from the masker.
        masked = self._engine.masker.redact(strip_escapes(str(message)))
        now = time.time()
        lines = masked.splitlines() or [""]
        with self._lock:
            self.last_activity = time.monotonic()
            self._pending.extend((now, level, line) for line in lines)
            due = (len(self._pending) >= self.FLUSH_LINES
                   or time.monotonic() - self._flushed >= self.FLUSH_SECONDS)
        if emit:
            for line in lines:
                self._engine.emit(LogLine(self._unit.id, self._unit.env, line, level))
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            self._flushed = time.monotonic()
        self._engine.workspace.add_log_lines(self._run_id, pending)


class Engine:
    """Drives units of work for a front end. One engine per workspace and command."""

    def __init__(
        self,
        catalog: Catalog,
        workspace: Workspace,
        target: Target | Callable[[], Target],
        resolver: Resolver,
        *,
        masker: Masker | None = None,
        listener: Listener | None = None,
        heartbeat_after: float = 30.0,
        error_log: Path | None = None,
        retry: RetryPolicy | None = None,
        parallel: int = DEFAULT_PARALLEL,
        parallel_calls: int = DEFAULT_CALLS,
    ) -> None:
        self.catalog = catalog
        self.workspace = workspace
        self._target = target
        self.resolver = resolver
        self.masker = masker or Masker()
        self.listeners: list[Listener] = [listener] if listener else []
        self.heartbeat_after = heartbeat_after
        self.error_log = error_log or workspace.path / "logs" / "labtui.log"
        self.cancelled = threading.Event()
        self.retry = retry or RetryPolicy()
        """How a hook that failed with `Transient` is tried again (every front end's)."""
        if parallel < 1:
            raise ValueError(f"parallel must be at least 1 (got {parallel})")
        self.parallel = parallel
        """How many units that do not depend on each other run, verify or roll back at once
        (1: one after the other, in order)."""
        # Units work in threads: listeners get one event at a time, the target opens once.
        self._emit_lock = threading.RLock()
        self._target_lock = threading.Lock()
        self.calls = CallPool(parallel_calls)
        """Where hooks make their independent port calls at once (`StepContext.gather`)."""
        # The resolver is the one that registers secrets: those given, those it resolves,
        # those stored (secret outputs of earlier runs too).
        self.resolver.mask_with(self.masker, workspace)
        self._target_checked = False

    # -- plumbing --------------------------------------------------------------------------

    @property
    def target(self) -> Target:
        if not isinstance(self._target, Target):
            with self._target_lock:
                if not isinstance(self._target, Target):
                    self._target = self._target()
        return self._target

    def close(self) -> None:
        """Close the target if this engine opened it."""
        self.calls.close()
        if isinstance(self._target, Target):
            self._target.close()

    def claim_target(self) -> None:
        """Bind the target's record of what was created to this state.db, before any work.

        Raises:
            WorkspaceError: the target holds what another state.db recorded (this one was
                emptied, deleted or replaced); the message gives the ways out.
        """
        mirror = self.target.journal_mirror()
        owner = self.workspace.id
        if mirror is None or owner is None:
            return
        try:
            mirror.claim(owner)
        except NotOwner as exc:
            raise WorkspaceError(state_lost_message(self.workspace, exc)) from None
        self._sync_mirror(mirror)

    def _sync_mirror(self, mirror: JournalMirror) -> None:
        """Make the journal and the target's record hold the same entries. The journal gets
        what only the target has (a state.db restored from a backup older than the last run);
        the target gets what only the journal has (recorded before it kept a record). Nothing
        is dropped: at worst a rollback finds a resource already gone, which is fine."""
        from labtui.state import JournalRow

        rows = {(r.step, r.env, r.kind, r.ref): r for r in self.workspace.journal_rows()}
        mirrored = {(e.step, e.env, e.kind, e.ref): e for e in mirror.entries()}
        for key, row in rows.items():
            if key not in mirrored:
                mirror.record(MirroredEntry(row.step, row.env, row.kind, row.ref, row.undo,
                                            row.created))
        for key, entry in mirrored.items():
            if key not in rows:
                self.workspace.journal_restore(JournalRow(
                    0, entry.step, entry.env, entry.kind, entry.ref, entry.undo, entry.created))

    def check_target(self) -> None:
        """Have the target confirm where it works before any hook runs (once per engine).

        Raises:
            TargetError: the target's options name a place it cannot work in.
        """
        if not self._target_checked:
            self.target.check()
            self._target_checked = True

    def emit(self, event: Event) -> None:
        with self._emit_lock:
            for listener in self.listeners:
                listener(event)

    def cancel(self) -> None:
        """Start no further unit, and ask the running hooks to stop at their next check; the
        journal stays exact."""
        self.cancelled.set()

    def status(self, unit: Unit) -> Status:
        record = self.workspace.status(unit.id, unit.env)
        return Status(record.status) if record else Status.NOT_STARTED

    def unit_state(self, unit: Unit) -> UnitState:
        """Where the unit stands, in the words every front end shows (`labtui.status`)."""
        return unit_state(self.workspace, unit)

    def values_for(self, unit: Unit) -> dict[str, str]:
        return self.resolver.hand_out(unit.env)

    def check_values(self, units: Sequence[Unit]) -> None:
        """Raise ValuesError naming every missing or invalid value the units need."""
        problems: list[str] = []
        for unit in units:
            for problem in self.resolver.problems(unit.step.inputs, unit.env):
                if problem not in problems:
                    problems.append(problem)
        if problems:
            raise ValuesError(problems)
        self.resolver.remember()

    def check_requires(self, unit: Unit, planned: Sequence[Unit] = ()) -> None:
        """Raise RequirementsError unless every requirement is done (or runs before it)."""
        ahead = {(u.id, u.env) for u in planned}
        missing = [
            required for required in self.catalog.requirements(unit)
            if (required.id, required.env) not in ahead and self.status(required) != Status.DONE
        ]
        if missing:
            raise RequirementsError(unit, missing)

    def context(self, unit: Unit, log: Logger) -> StepContext:
        """The context a hook of `unit` gets, outside a recorded run: its values, the target,
        its journal and outputs in the workspace, the masker and its artifacts folder, with
        `log` taking its lines. The actions (`run`, `verify` …) make their own; this one is
        for calling a hook directly, as `labtui.testing` does in step tests."""
        return self._context(unit, log)

    def _context(self, unit: Unit, log: Logger) -> StepContext:
        artifacts = self.workspace.artifacts_folder(unit.id, unit.env)
        artifacts.mkdir(parents=True, exist_ok=True, mode=0o700)

        def progress(done: float, total: float, message: str) -> None:
            if isinstance(log, _RunLog):  # progress is activity: no heartbeat needed
                log.last_activity = time.monotonic()
            self.emit(Progress(unit.id, unit.env, done, total, self.masker.redact(message)))

        def publish(name: str, path: Path) -> None:
            # Remembered first: a front end opened later (or after a restart) finds it too.
            self.workspace.record_artifact(unit.id, unit.env, name, path)
            self.emit(ArtifactReady(unit.id, unit.env, name, str(path)))

        # The one way a value a step learns at run time (a key it created) gets masked.
        register_secret = self.masker.register
        return StepContext(
            step_id=unit.id, env=unit.env, values=self.values_for(unit), target=self.target,
            log=log, journal=_Journal(self.workspace, unit, self.target.journal_mirror()),
            outputs=_Outputs(self.workspace, unit, register_secret), artifacts=artifacts,
            cancelled=self.cancelled, report_progress=progress,
            register_secret=register_secret, publish_artifact=publish,
            redact=self.masker.redact, gather_calls=self.calls.gather,
        )

    def _verify(self, unit: Unit, ctx: StepContext, *, before_run: bool = False) -> Verdict:
        verdict = unit.step.verify(ctx)
        checks = [Check(c.name, c.ok, self.masker.redact(c.message), self.masker.redact(c.hint))
                  for c in verdict.checks]
        self.workspace.save_checks(unit.id, unit.env,
                                   [(c.name, c.ok, c.message, c.hint) for c in checks])
        for check in checks:
            self.emit(CheckResult(unit.id, unit.env, check.name, check.ok, check.message,
                                  check.hint, before_run))
        return Verdict(tuple(checks))

    def _perform(self, unit: Unit, action: str,
                 body: Callable[[StepContext], Result]) -> Result:
        """Run one action with its run-history record, events, heartbeat and error handling."""
        started = time.monotonic()
        run_id = self.workspace.start_run(unit.id, unit.env, action)
        log = _RunLog(self, unit, run_id)
        self.emit(StepStarted(unit.id, unit.env, action))
        stop_heartbeat = self._start_heartbeat(unit, log)
        try:
            ctx = self._context(unit, log)
            # A long-running operation a port starts is journaled until it is seen to end.
            with listening(_JournaledOperations(ctx.journal)):
                result = self._with_retries(unit, action, log, body, ctx)
        except (Cancelled, RetryCancelled) as exc:
            if isinstance(exc, RetryCancelled) and action == "run":
                self.workspace.set_status(unit.id, unit.env, Status.CANCELLED)
            result = Result(unit, action, Outcome.CANCELLED,
                            "cancelled; what it created is in the journal, and a rollback "
                            "removes it")
        except RequirementsError as exc:
            result = Result(unit, action, Outcome.FAILED, str(exc))
        except Transient as exc:
            tries = self.retry.attempts
            result = Result(unit, action, Outcome.FAILED, self.masker.redact(
                f"{exc} (still so after {tries} tr{'ies' if tries != 1 else 'y'}: try again "
                "later)"))
        except EXPECTED_ERRORS as exc:
            result = Result(unit, action, Outcome.FAILED,
                            self.masker.redact(str(exc)))
        except OSError as exc:  # the machine's fault (full disk, I/O error): said as one
            result = Result(unit, action, Outcome.FAILED, self._machine_fault(unit, exc))
        except Exception as exc:  # any bug in a step: recorded in full, named in one line
            result = Result(unit, action, Outcome.FAILED, self._unexpected(unit, exc))
        finally:
            stop_heartbeat.set()
        result.duration = time.monotonic() - started
        if result.outcome in (Outcome.FAILED, Outcome.CANCELLED, Outcome.DRIFT,
                              Outcome.NOT_DONE):
            log.record(result.message)  # StepFinished carries it to the front ends
        log.flush()
        self.workspace.finish_run(run_id, result.outcome.value, result.message)
        self.emit(StepFinished(unit.id, unit.env, action, result.outcome.value, result.message,
                               result.duration))
        return result

    def _with_retries(self, unit: Unit, action: str, log: _RunLog,
                      body: Callable[[StepContext], Result], ctx: StepContext) -> Result:
        """Call the hook's `body`, again under the retry policy while the target answers
        `Transient`: every hook may be called again (run and rollback are idempotent, verify
        and plan read only), so repeating the whole hook is always safe."""

        def retrying(attempt: int, delay: float, error: Transient) -> None:
            message = self.masker.redact(str(error))
            log.warn(f"{message}: trying again in {delay:.1f}s "
                     f"(attempt {attempt + 1} of {self.retry.attempts})")
            self.emit(Retrying(unit.id, unit.env, action, attempt, self.retry.attempts,
                               round(delay, 3), message))

        return self.retry.call(partial(body, ctx), cancelled=self.cancelled,
                               on_retry=retrying)

    def _machine_fault(self, unit: Unit, exc: OSError) -> str:
        from labtui.faults import describe_os_error

        line = self.masker.redact(describe_os_error(exc))
        try:
            self._unexpected(unit, exc)  # the traceback still goes to the error log
        except OSError:  # the same full disk, say: the line says what matters
            return line
        return f"{line} (details in {self.error_log})"

    def _unexpected(self, unit: Unit, exc: BaseException) -> str:
        text = "".join(traceback.format_exception(exc))
        self.error_log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.error_log, "a", encoding="utf-8") as handle:
            handle.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {unit.label}\n")
            handle.write(self.masker.redact(text))
        self.error_log.chmod(0o600)
        summary = self.masker.redact(f"{type(exc).__name__}: {exc}")
        return f"unexpected error {summary} (details in {self.error_log})"

    def _start_heartbeat(self, unit: Unit, log: _RunLog) -> threading.Event:
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(min(1.0, self.heartbeat_after)):
                quiet = time.monotonic() - log.last_activity
                if quiet >= self.heartbeat_after:
                    self.emit(Heartbeat(unit.id, unit.env, round(quiet, 1)))
                    log.last_activity = time.monotonic()

        threading.Thread(target=beat, name=f"heartbeat-{unit.label}", daemon=True).start()
        return stop

    # -- actions ---------------------------------------------------------------------------

    def run_scope(self, units: Sequence[Unit], *, with_requires: bool = False) -> list[Unit]:
        """Every unit `run` takes on, in run order, without checking anything: `units`, and
        with `with_requires` what they need first. A summary names those a run did not reach."""
        return self.catalog.closure(units) if with_requires else list(units)

    def units_to_run(self, units: Sequence[Unit], *, with_requires: bool = False) -> list[Unit]:
        """The units a run takes on, in order: with `with_requires`, what they need first.

        Raises:
            RequirementsError: a requirement is not done and not about to run.
        """
        ordered = self.run_scope(units, with_requires=with_requires)
        for i, unit in enumerate(ordered):
            self.check_requires(unit, ordered[:i])
        return ordered

    def units_to_plan(self, units: Sequence[Unit], *, with_requires: bool = False) -> list[Unit]:
        """What the plan before a run shows, in run order: `units`, and (with
        `with_requires`) the requirements that are not done yet — a done one is verified and
        skipped by the run, so it is not offered as work.

        Raises:
            RequirementsError: a requirement is not done and not about to run.
        """
        chosen = set(units)
        return [unit for unit in self.units_to_run(units, with_requires=with_requires)
                if unit in chosen or self.status(unit) != Status.DONE]

    def run(self, units: Sequence[Unit], *, force: bool = False, with_requires: bool = False,
            solve_manual: bool = False) -> list[Result]:
        """Run units, those that do not need each other at once (up to `parallel`), each
        after its requirements; one that does not end done stops the units that need it (and
        only those); once cancelled, no further unit starts. The results come in run order,
        without the units not reached. With `solve_manual`, a manual step that does not
        verify gets its reference answer instead of instructions.

        Raises:
            ValuesError: a value is missing or invalid (nothing was run).
            RequirementsError: a requirement is not done and not about to run.
        """
        units = self.run_scope(units, with_requires=with_requires)
        self.check_values(units)  # values first: a missing value is named before a requirement
        units = self.units_to_run(units)
        self.check_target()
        return self._concurrently(
            units, self.catalog.requirements,
            lambda unit: self._perform(unit, "run", partial(self._run, unit, force,
                                                            solve_manual)),
            proceed=lambda result: result.ok)

    def _concurrently(self, units: Sequence[Unit], waits_for: Callable[[Unit], Sequence[Unit]],
                      work: Callable[[Unit], Result],
                      proceed: Callable[[Result], bool] = lambda result: True) -> list[Result]:
        """`work` on each unit once those of `waits_for` are finished (and `proceed`ed), up
        to `parallel` at once; the results in the order of `units`."""
        done = schedule(units, waits_for, work, workers=self.parallel,
                        cancelled=self.cancelled, proceed=proceed)
        return [done[unit] for unit in units if unit in done]

    def _run(self, unit: Unit, force: bool, solve_manual: bool, ctx: StepContext) -> Result:
        self.check_requires(unit)
        if not force:
            verdict = self._verify(unit, ctx, before_run=True)
            if verdict.ok:
                self.workspace.set_status(unit.id, unit.env, Status.DONE)
                return Result(unit, "run", Outcome.SKIPPED, "already done (verified)",
                              list(verdict.checks))
        ctx.check_cancelled()
        self._resume_operations(ctx)
        try:
            if unit.step.manual and solve_manual:
                unit.step.solve(ctx)
            else:
                unit.step.run(ctx)
            ctx.check_cancelled()
            verdict = self._verify(unit, ctx)
        except Cancelled:
            self.workspace.set_status(unit.id, unit.env, Status.CANCELLED)
            raise
        except BaseException as exc:
            message = self.masker.redact(str(exc))
            self.workspace.set_status(unit.id, unit.env, Status.FAILED, message)
            raise
        if verdict.ok:
            self.workspace.set_status(unit.id, unit.env, Status.DONE)
            return Result(unit, "run", Outcome.DONE, "done and verified", list(verdict.checks))
        message = "; ".join(f"{c.name}: {c.message}" for c in verdict.failed)
        self.workspace.set_status(unit.id, unit.env, Status.FAILED, message)
        return Result(unit, "run", Outcome.FAILED,
                      f"ran, but verify failed: {message}", list(verdict.checks))

    def _resume_operations(self, ctx: StepContext) -> None:
        """Wait for the long-running operations an earlier run of this step started and
        nobody saw end (it was killed mid-wait): the target resumes each from its token, so
        the step, run again, finds what they made instead of starting them a second time."""
        for entry in ctx.journal.entries():
            if isinstance(entry.record, PendingOperation):
                ctx.log(f"resume {entry.ref} (started by an earlier run)")
                ctx.target.resume_operation(entry.record.operation)
                ctx.journal.forget(entry)

    def solve_scope(self, units: Sequence[Unit], *, with_requires: bool = False,
                    broad: bool = False) -> SolveScope:
        """What a solve of `units` takes on (the CLI's --solve and the app's Solve ask this).
        Steps picked one by one are solved in place: their manual units, the others left
        out. With `with_requires`, or `broad` (a whole section, everything), it is a run that
        solves the manual steps on its way.

        Raises:
            NotManual: steps picked one by one, none of them manual.
        """
        if with_requires or broad:
            return SolveScope("run", tuple(self.run_scope(units, with_requires=with_requires)))
        manual = tuple(unit for unit in units if unit.step.manual)
        if not manual:
            raise NotManual(units)
        return SolveScope("solve", manual)

    def solve_request(self, scope: SolveScope, *, force: bool = False) -> list[Result]:
        """Carry out what `solve_scope` decided.

        Raises:
            ValuesError, RequirementsError: as `solve` and `run` do.
        """
        if scope.action == "solve":
            return self.solve(scope.units)
        return self.run(scope.units, force=force, solve_manual=True)

    def solve(self, units: Sequence[Unit]) -> list[Result]:
        """Fill in the reference answer of manual steps (proctors, --solve), then verify.

        Raises:
            ValuesError: a value is missing or invalid (nothing was changed).
            RequirementsError: a requirement is not done.
        """
        self.check_values(units)
        for unit in units:
            self.check_requires(unit)
        self.check_target()
        results = []
        for unit in units:
            result = self._perform(unit, "solve", partial(self._solve, unit))
            results.append(result)
            if not result.ok:
                break
        return results

    def _solve(self, unit: Unit, ctx: StepContext) -> Result:
        unit.step.solve(ctx)
        result = self._verify_unit(unit, ctx)
        if result.outcome != Outcome.DONE:
            self.workspace.set_status(unit.id, unit.env, Status.FAILED, result.message)
            return Result(unit, "solve", Outcome.FAILED, result.message, result.checks)
        return Result(unit, "solve", Outcome.DONE, "solved and verified", result.checks)

    def act(self, unit: Unit, action: str, inputs: Mapping[str, str]) -> Result:
        """Do one of the unit's step's actions as a person (`labtui.actions`): checked
        inputs first, then `Step.act` as a recorded action named after it, then verify.
        Done when the step verifies afterwards; otherwise failed, with what the verify says
        (a rejected pull request: the reviewer's comment and what to do).

        Raises:
            ActionError: the step offers no such action, or an input is missing or invalid.
            ValuesError: a value the step needs is missing or invalid (nothing was done).
        """
        from labtui.actions import ActionError

        offered = {a.name: a for a in unit.step.actions}
        if action not in offered:
            names = ", ".join(f"--{name}" for name in offered) or "none"
            raise ActionError([f"{unit.id} offers no {action} action (it offers: {names})"])
        problems = offered[action].problems(inputs)
        if problems:
            raise ActionError(problems)
        self.check_values([unit])
        given = {name: value for name, value in inputs.items() if value}
        self.check_target()
        return self._perform(unit, action, partial(self._act, unit, action, given))

    def _act(self, unit: Unit, action: str, inputs: Mapping[str, str],
             ctx: StepContext) -> Result:
        unit.step.act(ctx, action, inputs)
        result = self._verify_unit(unit, ctx)
        if result.outcome == Outcome.DONE:
            return Result(unit, action, Outcome.DONE, f"{action}: done and verified",
                          result.checks)
        self.workspace.set_status(unit.id, unit.env, Status.FAILED, result.message)
        return Result(unit, action, Outcome.FAILED, result.message, result.checks)

    def verify(self, units: Sequence[Unit]) -> list[Result]:
        """Verify units, read-only; a done unit that no longer verifies becomes drift, one that
        was never done (or was rolled back) is not done."""
        self.check_values(units)
        self.check_target()
        # Verify only reads: no unit waits for another.
        return self._concurrently(
            units, lambda unit: (),
            lambda unit: self._perform(unit, "verify", partial(self._verify_unit, unit)))

    def _verify_unit(self, unit: Unit, ctx: StepContext) -> Result:
        verdict = self._verify(unit, ctx)
        checks = list(verdict.checks)
        if verdict.ok:
            if self.status(unit) != Status.DONE:
                self.workspace.set_status(unit.id, unit.env, Status.DONE)
            return Result(unit, "verify", Outcome.DONE, "verified", checks)
        message = "; ".join(f"{c.name}: {c.message}" for c in verdict.failed)
        if self.status(unit) in (Status.DONE, Status.DRIFT):
            self.workspace.set_status(unit.id, unit.env, Status.DRIFT, message)
            return Result(unit, "verify", Outcome.DRIFT, message, checks)
        return Result(unit, "verify", Outcome.NOT_DONE, message, checks)

    def rollback_order(self, units: Sequence[Unit]) -> list[Unit]:
        """The order a rollback of `units` (given in run order) undoes them: newest first, so
        what was built on something is removed before it. Front ends list and count a
        rollback in this order; `rollback` follows it."""
        return list(reversed(units))

    def reset_scope(self, env: str | None = None) -> list[Unit]:
        """Every unit a rollback of the whole lab takes on, in run order: each installed unit
        (of `env` when given) and then those of steps no longer installed whose entries the
        journal still holds, so what they made is removed too (first, being newest)."""
        return [*self.catalog.units(env=env), *self.uninstalled_units(env)]

    def units_through(self, step_id: str) -> list[Unit]:
        """What a hot start through `step_id` runs: see `units_through`.

        Raises:
            CatalogError: no such step.
        """
        return units_through(self.catalog, step_id)

    def rollback(self, units: Sequence[Unit]) -> list[Result]:
        """Undo units (given in run order) in `rollback_order`: each once what needs it is
        undone (those of steps no longer installed first), those that do not wait on each
        other at once; continue past failures and report each; once cancelled, start no
        further unit. The results come in rollback order."""
        self.check_target()
        order = self.rollback_order(units)
        uninstalled = [unit for unit in order if unit.id not in self.catalog]

        def waits_for(unit: Unit) -> list[Unit]:
            if unit.id not in self.catalog:
                return []
            return [*self.catalog.dependents(unit), *uninstalled]

        return self._concurrently(
            order, waits_for,
            lambda unit: self._perform(unit, "rollback", partial(self._rollback, unit)))

    def _rollback(self, unit: Unit, ctx: StepContext) -> Result:
        entries = ctx.journal.entries()
        if not entries:
            self._reset(unit)
            return Result(unit, "rollback", Outcome.CLEAN, "nothing to remove")
        for entry in reversed(entries):
            ctx.log(f"remove {entry.kind} {entry.ref}")
        try:
            unit.step.rollback(ctx)
            left = ctx.journal.entries()
            if left:
                names = ", ".join(f"{e.kind} {e.ref}" for e in left)
                raise StepError(f"rollback left {names} in the journal")
        except BaseException as exc:
            self.workspace.set_status(unit.id, unit.env, Status.FAILED,
                                      "rollback incomplete; run --rollback again")
            if isinstance(exc, (Cancelled, Transient)) or not isinstance(exc, Exception):
                raise  # Transient: the retry policy calls the rollback again
            reason = (self.masker.redact(str(exc)) if isinstance(exc, EXPECTED_ERRORS)
                      else self._unexpected(unit, exc))
            raise StepError(self.masker.redact(f"{reason}{self._way_out(unit)}")) from None
        self._reset(unit)
        # What was built on it may be gone with it (a resource group takes its contents).
        for dependent in self.catalog.dependents(unit):
            if self.status(dependent) == Status.DONE:
                self.workspace.set_status(
                    dependent.id, dependent.env, Status.DRIFT,
                    f"{unit.label}, which it needs, was rolled back: verify or run it again")
        return Result(unit, "rollback", Outcome.ROLLED_BACK,
                      f"removed {len(entries)} resource{'s' if len(entries) != 1 else ''}")

    def uninstalled_units(self, env: str | None = None) -> list[Unit]:
        """The units the journal holds entries of whose step is no longer installed (limited
        to `env` when given, as `Catalog.units` is), in the order they journaled: a rollback,
        which goes newest first, undoes the newest first. Add them to a rollback of
        everything, and what they made is removed too."""
        found: dict[tuple[str, str | None], None] = {}
        for row in self.workspace.journal_rows():
            if row.step not in self.catalog and (env is None or row.env in (None, env)):
                found.pop((row.step, row.env), None)
                found[(row.step, row.env)] = None
        return [uninstalled_unit(step, env) for step, env in found]

    def _way_out(self, unit: Unit) -> str:
        """How to get past an entry rollback cannot remove (the newest left is the one)."""
        rows = [row for row in self.workspace.journal_rows()
                if row.step == unit.id and row.env == unit.env]
        if not rows:
            return ""
        stuck = rows[-1]
        return (f" (journal entry {stuck.seq}: {stuck.kind} {stuck.ref}; if it is gone, or you "
                f"removed it by hand, `labtui journal forget {stuck.seq}` drops it and the "
                "rollback goes on; `labtui journal` lists them all)")

    def _reset(self, unit: Unit) -> None:
        self.workspace.clear_outputs(unit.id, unit.env)
        self.workspace.clear_artifacts(unit.id, unit.env)
        self.workspace.save_checks(unit.id, unit.env, [])
        self.workspace.set_status(unit.id, unit.env, Status.NOT_STARTED)

    def done_dependents(self, unit: Unit) -> list[Unit]:
        """The done units that need `unit`: rolling it back leaves them broken (drift)."""
        return [dependent for dependent in self.catalog.dependents(unit)
                if self.status(dependent) == Status.DONE]

    def rollback_plan(self, unit: Unit) -> list[Change]:
        """What a rollback of `unit` would delete, newest first (read from the journal as
        stored: an entry that does not fit its kind is listed too, and its rollback says
        the way out)."""
        rows = self.workspace.journal_rows()
        return [Change("delete", row.kind, row.ref) for row in reversed(rows)
                if row.step == unit.id and row.env == unit.env]

    def plan(self, units: Sequence[Unit], *, force: bool = False) -> list[Result]:
        """What a run of each unit would do, touching nothing; with `force`, what a forced
        run (which runs a unit even when it verifies) would do."""
        self.check_values(units)
        self.check_target()
        return [self._perform(unit, "plan", partial(self._plan, unit, force)) for unit in units]

    def _plan(self, unit: Unit, force: bool, ctx: StepContext) -> Result:
        changes = unit.step.forced_plan(ctx) if force else unit.step.plan(ctx)
        for change in changes:
            self.emit(PlannedChange(unit.id, unit.env, change.action, change.kind, change.ref,
                                    self.masker.redact(change.detail)))
        summary = ", ".join(f"{c.action} {c.kind} {c.ref}" for c in changes if
                            c.action != "keep") or "nothing to do"
        return Result(unit, "plan", Outcome.PLANNED, summary, changes=changes)


def state_lost_message(workspace: Workspace, lost: NotOwner) -> str:
    """Why a workspace whose state.db is gone is refused, and the two ways out."""
    backup = workspace.backup_path
    ways = []
    when = backup_taken(backup, lost.owner)
    if when is not None:
        ways.append(f"restore the copy labtui kept after the last run ({when}): "
                    f"cp {backup} {backup.with_name('state.db')}")
    ways.append("rebuild the journal from what the target holds: labtui recover")
    return (f"workspace {workspace.path}: its state.db is new or was emptied, but {lost}; "
            f"nothing was done, so they are not adopted without a journal: "
            + ", or ".join(ways))


def backup_taken(backup: Path, owner: str) -> str | None:
    """When `backup` was taken, if it is a copy of the state.db `owner` names; else None."""
    import sqlite3

    if not backup.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT value FROM meta WHERE key = 'workspace-id'").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return None  # a damaged copy is no way out
    if not rows or rows[0][0] != owner:
        return None
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(backup.stat().st_mtime))


def units_through(catalog: Catalog, step_id: str) -> list[Unit]:
    """The lab as an attendee would have done it up to `step_id`: every unit of the sections
    involved (the step's and its requirements'), in the lab's order, up to and including the
    step, with what they require (so cli-profiles too, which nothing requires).

    Raises:
        CatalogError: no such step.
    """
    needed = catalog.closure(catalog.units([step_id]))
    everything = catalog.units()
    last = max(i for i, unit in enumerate(everything) if unit.id == step_id)
    sections = {unit.step.section for unit in needed}
    return catalog.closure([unit for unit in everything[:last + 1]
                            if unit.step.section in sections])

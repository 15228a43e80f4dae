"""The engine: runs, verifies, rolls back and plans units of work, and tells front ends.

The headless console, the app and the proctor all drive the lab through an `Engine`; none of
them calls a step hook directly. The engine owns the order of things (values before work,
requires before a run, verify before and after a run), the journal, the run history, masking of
everything that leaves a hook, and cooperative cancellation. What an action takes on, and in
what order, is the planner's (`labtui.planner`, which the engine is); what a hook's context is
made of in a recorded run is `labtui.run_context`'s; how results are told, `labtui.outcomes`.

On a cloud a unit's time is mostly waiting on round trips, so units that do not need each other
run (verify, roll back) at once, bounded by `parallel` (`labtui.schedule`), and a hook makes its
independent port calls together through `StepContext.gather` (`labtui.gather`). What the user
sees stays in the lab's order: results come back in run (or rollback) order.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

from labtui.catalog import Catalog, Unit
from labtui.claim import claim
from labtui.events import (
    ArtifactReady,
    CheckResult,
    Event,
    Heartbeat,
    Listener,
    PlannedChange,
    Progress,
    Retrying,
    StepFinished,
    StepStarted,
)
from labtui.gather import DEFAULT_CALLS, CallPool
from labtui.masking import Masker
from labtui.outcomes import Outcome, Result, Status
from labtui.planner import (
    NotManual,
    Planner,
    RequirementsError,
    SolveScope,
    units_through,
)
from labtui.retry import RetryCancelled, RetryPolicy
from labtui.run_context import JournaledOperations, RunJournal, RunLog, UnitOutputs
from labtui.schedule import DEFAULT_PARALLEL, DEFAULT_VERIFY_PARALLEL, schedule
from labtui.state import Workspace, WorkspaceError
from labtui.status import UnitState, unit_state
from labtui.step import (
    Cancelled,
    Check,
    Logger,
    StepContext,
    StepError,
    Verdict,
)
from labtui.targets.base import Target, TargetError, Transient
from labtui.targets.operations import PendingOperation, listening
from labtui.values import Resolver, ValuesError

# What front ends have always imported from here, whichever module now holds it.
__all__ = [
    "EXPECTED_ERRORS",
    "Engine",
    "NotManual",
    "Outcome",
    "RequirementsError",
    "Result",
    "SolveScope",
    "Status",
    "units_through",
]


EXPECTED_ERRORS = (StepError, TargetError, WorkspaceError, ValuesError)


class Engine(Planner):
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
        parallel: int | None = None,
        parallel_calls: int = DEFAULT_CALLS,
    ) -> None:
        super().__init__(catalog, workspace)
        self._target = target
        self.resolver = resolver
        self.masker = masker or Masker()
        self.listeners: list[Listener] = [listener] if listener else []
        self.heartbeat_after = heartbeat_after
        self.error_log = error_log or workspace.path / "logs" / "labtui.log"
        self.cancelled = threading.Event()
        self.retry = retry or RetryPolicy()
        """How a hook that failed with `Transient` is tried again (every front end's)."""
        if parallel is not None and parallel < 1:
            raise ValueError(f"parallel must be at least 1 (got {parallel})")
        self.parallel = DEFAULT_PARALLEL if parallel is None else parallel
        """How many units that do not depend on each other run or roll back at once
        (1: one after the other, in order)."""
        self.verify_parallel = DEFAULT_VERIFY_PARALLEL if parallel is None else parallel
        """How many units verify at once: more than run by default (a verify only reads);
        the number given, if one was."""
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
        """Bind the target's record of what was created to this state.db, before any work
        (`labtui.claim`).

        Raises:
            WorkspaceError: the target holds what another state.db recorded (this one was
                emptied, deleted or replaced); the message gives the ways out.
        """
        claim(self.workspace, self.target.journal_mirror())

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
            if isinstance(log, RunLog):  # progress is activity: no heartbeat needed
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
            log=log, journal=RunJournal(self.workspace, unit, self.target.journal_mirror()),
            outputs=UnitOutputs(self.workspace, unit, register_secret), artifacts=artifacts,
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
        log = RunLog(self, unit, run_id)
        self.emit(StepStarted(unit.id, unit.env, action))
        stop_heartbeat = self._start_heartbeat(unit, log)
        try:
            ctx = self._context(unit, log)
            # A long-running operation a port starts is journaled until it is seen to end.
            with listening(JournaledOperations(ctx.journal)):
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

    def _with_retries(self, unit: Unit, action: str, log: RunLog,
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

    def _start_heartbeat(self, unit: Unit, log: RunLog) -> threading.Event:
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
                      proceed: Callable[[Result], bool] = lambda result: True,
                      workers: int | None = None) -> list[Result]:
        """`work` on each unit once those of `waits_for` are finished (and `proceed`ed), up
        to `workers` (default `parallel`) at once; the results in the order of `units`."""
        done = schedule(units, waits_for, work, workers=workers or self.parallel,
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
            lambda unit: self._perform(unit, "verify", partial(self._verify_unit, unit)),
            workers=self.verify_parallel)

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



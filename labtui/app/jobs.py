"""The app's background work: each engine call runs in a thread worker and reports back as
events, drained onto the screen on a timer; the outcome of each job is shown, remembered, or
turned into the next question (run what comes first?). Also the identity and the sandbox's
Databricks REST API, served while the app is open."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.worker import Worker, WorkerState

from labtui.app.banner import Banner
from labtui.app.bridge import describe
from labtui.app.confirm import ConfirmScreen
from labtui.app.device_code import close_device_code, offer_device_code_prompt
from labtui.app.job import Job
from labtui.app.model import unit_key
from labtui.catalog import Unit
from labtui.engine import RequirementsError, Result
from labtui.events import LogLine, Progress, StepFinished, StepStarted
from labtui.values import ValuesError

if TYPE_CHECKING:
    pass
from labtui.app.layout import LabLayout

PLAN_SIGNS = {"create": "+", "change": "~", "delete": "-", "keep": "="}
PLAN_STYLES = {"create": "green", "change": "yellow", "delete": "red", "keep": "dim"}


class EngineJobs(LabLayout):
    """Hands work to the engine in a worker and shows what comes back."""

    def drain_events(self) -> None:
        """Move what the engine said since the last tick to the screen, in one batch."""
        events, dropped = self.events.drain()
        if not events and not dropped:
            return
        lines: list[str] = []
        if dropped:
            lines.append(f"… {dropped:,} log lines dropped: the screen could not keep up")
        changed = finished = False
        progress: Progress | None = None
        for event in events:
            if isinstance(event, LogLine):
                lines.append(event.line if event.level == "info" else f"! {event.line}")
                continue
            if isinstance(event, Progress):
                progress = event
                continue
            if isinstance(event, StepStarted):
                self.running.add((event.step, event.env))
                self.log_pane.set_status(f"· {event.action} {event.step}"
                                         + (f" ({event.env})" if event.env else ""))
                changed = True
            elif isinstance(event, StepFinished):
                self.running.discard((event.step, event.env))
                self.log_pane.set_status("")
                changed = finished = True
            text = describe(event)
            if text is not None:
                lines.append(self.lab.masker.redact(text))
        self.log_pane.add_lines(lines)
        if progress is not None and self.running:
            label = f"{progress.step} ({progress.env})" if progress.env else progress.step
            total = f"/{progress.total:g}" if progress.total else ""
            self.log_pane.set_status(f"· {label} {progress.done:g}{total} {progress.message}")
        if changed:
            self.refresh_statuses(reports=finished)

    @work(thread=True, group="identity", exit_on_error=False, description="identity")
    def load_identity(self) -> dict[str, str]:
        if self.lab.session is not None:  # a device code is shown in a dialog of the app
            offer_device_code_prompt(self, self.lab.session.engine.target)
        return self.lab.identity()

    @work(thread=True, group="databricks-api", exclusive=True, exit_on_error=False,
          description="Databricks REST API")
    def serve_databricks_api(self) -> str | None:
        """Serve the sandbox while the app is open, so the CLI profiles work (tried again
        after each job: the Infrastructure steps make the sandbox)."""
        from labtui.targets.local.databricks_api.background import (
            run_pipelines_in_background,
            serve_in_background,
        )

        if self.lab.session is None or self.databricks_api is not None:
            return None
        run_pipelines_in_background(self.lab.session.engine.target)
        server, line = serve_in_background(self.lab.session.engine.target)
        with self._databricks_api_lock:  # the app may be closing meanwhile
            if not self._unmounted:
                self.databricks_api, server = server, None
        if server is not None:
            server.close()
            return None
        return line

    def databricks_api_changed(self, event: Worker.StateChanged) -> None:
        said = event.worker.result if event.state == WorkerState.SUCCESS else (
            f"the Databricks REST API is not served: {event.worker.error}"
            if event.state == WorkerState.ERROR else None)
        if isinstance(said, str) and said != self._databricks_api_said:
            self._databricks_api_said = said
            self.log_pane.add_lines([self.lab.masker.redact(said)], aside=True)

    def job_ended(self, job: Job) -> None:
        """Dialogs about a job that ended (cancel it? quit?) are out of date: close them."""
        for screen in list(self.screen_stack):
            if isinstance(screen, ConfirmScreen) and screen.about is job:
                screen.outdated(f"{job.action} {job.label} has ended: nothing to cancel")
                if screen is self.screen:
                    screen.dismiss(False)
                    self.notify(f"{job.action} {job.label} ended before you answered; "
                                "nothing was cancelled", title="Dialog closed")

    def start(self, job: Job) -> None:
        self.job = job
        if job.action != "plan" and not self.log_pane.is_open:
            self.log_pane.show(True)
            self._log_opened_for_job = True
        if self._drain_timer is not None:
            self._drain_timer.resume()
        self.refresh_bindings()
        detail = self.detail
        if detail is not None:
            detail.busy = True
            detail.update_buttons()
        self.run_engine(job)

    @work(thread=True, exclusive=True, group="engine", exit_on_error=False,
          description="engine")
    def run_engine(self, job: Job) -> list[Result]:
        engine = self.lab.engine
        engine.cancelled.clear()
        units = list(job.units)
        if job.act:
            return [engine.act(units[0], job.act, dict(job.inputs))]
        if job.action == "run":
            return engine.run(units, force=job.force, with_requires=job.with_requires,
                              solve_manual=job.solve_manual)
        if job.action == "solve":
            return engine.solve(units)
        if job.action == "verify":
            return engine.verify(units)
        if job.action == "plan":
            if job.then_run:
                units = self._units_to_run(job)
            return engine.plan(units)
        if job.action == "rollback":
            return engine.rollback(units)
        raise ValueError(f"unknown action {job.action!r}")

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "databricks-api":
            self.databricks_api_changed(event)
            return
        if worker.group == "identity":
            if event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
                close_device_code(self)  # signed in, or not: either way the code is spent
            if event.state == WorkerState.SUCCESS and isinstance(worker.result, dict):
                self.query_one(Banner).show_identity(worker.result)
            elif event.state == WorkerState.ERROR:
                self.query_one(Banner).show_identity(
                    {"identity": f"unknown ({self.lab.masker.redact(str(worker.error))})"})
            return
        if worker.group != "engine" or event.state not in (
                WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        job, self.job = self.job, None
        if job is not None:
            self.job_ended(job)
        self.serve_databricks_api()
        if self._drain_timer is not None:
            self._drain_timer.pause()
        self.drain_events()
        self.running.clear()
        if job is not None:
            self.remember_outcome(job, worker.result if event.state == WorkerState.SUCCESS
                                  else worker.error)
        if self._log_opened_for_job and job is not None and job.action != "plan":
            # Back to the step: its status and checks say how it ended; l reopens the log.
            self._log_opened_for_job = False
            self.log_pane.show(False)
        self.refresh_bindings()
        self.refresh_statuses(reports=True)
        if job is not None:
            if event.state == WorkerState.SUCCESS and isinstance(worker.result, list):
                self.job_done(job, worker.result)
            elif event.state == WorkerState.ERROR and worker.error is not None:
                self.job_failed(job, worker.error)
        if self.quit_when_idle:
            self.exit(0)

    def remember_outcome(self, job: Job, outcome: object) -> None:
        """Keep why the last action on a unit did not work, for its detail to show until the
        next action (a toast alone is gone before a first-time attendee has read it)."""
        masker = self.lab.masker
        if isinstance(outcome, list):
            for result in outcome:
                if isinstance(result, Result):
                    key = unit_key(result.unit)
                    if result.ok:
                        self.notes.pop(key, None)
                    else:
                        self.notes[key] = masker.redact(
                            f"{job.action} {result.outcome}: {result.message}")
        elif isinstance(outcome, ValuesError):
            for unit in job.units:
                self.notes[unit_key(unit)] = masker.redact(
                    f"{job.action} did not start: " + "; ".join(outcome.problems))
        elif isinstance(outcome, BaseException) and not isinstance(outcome, RequirementsError):
            for unit in job.units:
                self.notes[unit_key(unit)] = masker.redact(
                    f"{job.action} stopped: {type(outcome).__name__}: {outcome}")

    def _units_to_run(self, job: Job) -> list[Unit]:
        """What the plan before a run shows: the job's units and the requirements not yet
        done. RequirementsError (offered before the plan) when those are not to run too."""
        return self.lab.engine.units_to_plan(job.units, with_requires=job.with_requires)

    def job_done(self, job: Job, results: list[Result]) -> None:
        masker = self.lab.masker
        failed = [result for result in results if not result.ok]
        if job.action == "plan":
            if failed:
                self.notify(masker.redact(failed[0].message), title="Plan failed",
                            severity="error", timeout=10)
                return
            if job.then_run and not self.quit_when_idle:
                self.confirm_run(job, results)
            return
        if failed:
            first = failed[0]
            self.notify(masker.redact(first.message), title=f"{job.action} {first.outcome}",
                        severity="error" if first.outcome == "failed" else "warning",
                        timeout=15)
        elif results:
            summary = "; ".join(f"{r.unit.label}: {r.message or r.outcome}" for r in results)
            self.notify(masker.redact(summary), title=f"{job.action} finished")

    def confirm_run(self, plan: Job, results: list[Result]) -> None:
        lines: list[Text | str] = []
        for result in results:
            if len(results) > 1:
                lines.append(Text(result.unit.label, style="bold"))
            for change in result.changes:
                sign = PLAN_SIGNS.get(change.action, "?")
                text = f"{sign} {change.action} {change.kind} {change.ref}"
                if change.detail:
                    text += f" ({change.detail})"
                lines.append(Text(self.lab.masker.redact(text),
                                  style=PLAN_STYLES.get(change.action, "")))
            if not result.changes:
                lines.append(Text("nothing to create or change", style="dim"))
        run = Job("run", plan.units, force=plan.force, with_requires=plan.with_requires,
                  solve_manual=plan.solve_manual)
        title = f"Run {plan.label}" + (" and the steps it needs?" if plan.with_requires else "?")
        self.ask(ConfirmScreen(title, lines, yes="Run"), lambda: self.start(run))

    def job_failed(self, job: Job, error: BaseException) -> None:
        masker = self.lab.masker
        if isinstance(error, ValuesError):
            self.notify("\n".join(masker.redact(p) for p in error.problems),
                        title="Values needed first", severity="error", timeout=15)
            detail = self.detail
            if detail is not None and detail.display and detail.form is not None:
                detail.form.focus_first_problem()  # not a hidden one (a section was run)
            return
        if isinstance(error, RequirementsError):
            lines: list[Text | str] = [f"{error.unit.label} needs these done first:"]
            lines += [Text(f"  {unit.label} — {unit.step.title}", style="bold")
                      for unit in error.missing]
            lines.append("Run them first, then it? (You see the plan of all of them next.)")
            again = Job("plan", job.units, force=job.force, with_requires=True, then_run=True,
                        solve_manual=job.solve_manual or job.action == "solve")
            self.ask(ConfirmScreen("Other steps come first", lines, yes="Run them too"),
                     lambda: self.start(again))
            return
        self.notify(masker.redact(f"{type(error).__name__}: {error}"),
                    title=f"{job.action} stopped", severity="error", timeout=15)

    def action_cancel_step(self) -> None:
        job = self.job
        if job is None:
            return
        self.ask(ConfirmScreen(f"Cancel {job.action} {job.label}?",
                               ["The step stops at its next safe point. What it created so far "
                                "stays in the journal; Rollback removes it."],
                               yes="Cancel it", no="Let it run", danger=True),
                 self.cancel_job, about=job)

    def cancel_job(self) -> None:
        if self.job is not None:
            self.lab.engine.cancel()
            self.log_pane.add_lines(["■ cancelling at the next safe point …"])

    def action_request_quit(self, key: str = "") -> None:
        """Quit; while a step works, ask first (`key`: the letter it came from, if any)."""
        job = self.job
        if job is None:
            self.exit(0)
            return
        if isinstance(self.screen, ConfirmScreen):
            return

        def cancel_and_quit() -> None:
            self.quit_when_idle = True
            self.cancel_job()

        self.ask(ConfirmScreen(f"{job.action} {job.label} is still working",
                               ["Cancel it cleanly and quit? What it created so far stays in "
                                "the journal; Rollback removes it next time."],
                               yes="Cancel and quit", no="Keep working", danger=True),
                 cancel_and_quit, about=job)

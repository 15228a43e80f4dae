"""The Textual app: the step tree, the selected step's detail, the live log.

The app holds no step logic: every action is one engine call in a thread worker, and what the
engine says arrives as events, drained from `EventBuffer` on a timer. `build_app` is the one
factory for the command line and the tests.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Static, Tree
from textual.worker import Worker, WorkerState

if TYPE_CHECKING:
    from textual.command import Provider

    from labtui.targets.local.databricks_api import DatabricksApiServer

from labtui.app.banner import Banner
from labtui.app.bridge import EventBuffer, describe
from labtui.app.confirm import ConfirmScreen
from labtui.app.log_pane import LogPane
from labtui.app.model import Lab, Selection, UnitKey, unit_key
from labtui.app.step_detail import StepDetail
from labtui.app.step_tree import ProgressLine, StepTree, legend
from labtui.app.value_form import ValueForm
from labtui.catalog import Catalog, Unit
from labtui.engine import RequirementsError, Result, Status
from labtui.events import LogLine, Progress, StepFinished, StepStarted
from labtui.session import SessionOptions
from labtui.values import ValuesError


def step_commands() -> type[Provider]:
    """The palette's step search, imported when the palette first opens (not at start-up)."""
    from labtui.app.commands import StepCommands

    return StepCommands


PLAN_SIGNS = {"create": "+", "change": "~", "delete": "-", "keep": "="}
PLAN_STYLES = {"create": "green", "change": "yellow", "delete": "red", "keep": "dim"}


@dataclass(frozen=True)
class Job:
    """One engine call the app makes: an action on some units."""

    action: str
    units: tuple[Unit, ...]
    force: bool = False
    with_requires: bool = False
    then_run: bool = field(default=False)
    """A plan shown before a run: when it succeeds, ask, then run."""

    @property
    def label(self) -> str:
        return ", ".join(unit.label for unit in self.units)


class LabApp(App[int]):
    """labtui's app. Thin: layout, key bindings, and handing work to the engine."""

    CSS_PATH = "app.tcss"
    TITLE = "labtui"
    COMMANDS = App.COMMANDS | {step_commands}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    DRAIN_INTERVAL = 0.1
    """Seconds between log flushes: ten a second looks live and leaves the keys room."""
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # as WIDE below
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    BINDINGS = [
        Binding("r", "run", "Run"),
        Binding("R", "run_again", "Run again", show=False),
        Binding("v", "verify", "Verify"),
        Binding("p", "plan", "Plan"),
        Binding("u", "rollback", "Rollback"),
        Binding("c", "cancel_step", "Cancel step"),
        Binding("l", "toggle_log", "Log"),
        Binding("slash", "filter_log", "Filter log", show=False),
        Binding("ctrl+s", "save_log", "Save log"),
        Binding("m", "maximize_panel", "Maximize", show=False),
        Binding("escape", "back_to_tree", "Tree"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "request_quit", "Quit"),
        Binding("ctrl+c,ctrl+q", "request_quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, lab: Lab, *, focus: str | None = None,
                 theme_name: str | None = None) -> None:
        super().__init__()
        self.lab = lab
        self.focus_step = focus
        self.theme_name = theme_name or "textual-dark"
        self.events = EventBuffer()
        self.running: set[UnitKey] = set()
        self.job: Job | None = None
        self.selection: Selection | None = None
        self.quit_when_idle = False
        self._relabel_timer: Timer | None = None
        self._drain_timer: Timer | None = None
        self._details: dict[Selection, StepDetail] = {}
        self._current_detail: StepDetail | None = None
        self._log_opened_for_job = False
        self.notes: dict[UnitKey, str] = {}
        """Why the last action on a unit did not work (shown in its detail)."""
        self.databricks_api: DatabricksApiServer | None = None
        self._databricks_api_said: str | None = None
        self._unmounted = False
        self._databricks_api_lock = threading.Lock()
        if not lab.read_only:
            lab.engine.listeners.append(self.events)

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Banner(self.lab, id="banner")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield ProgressLine(id="progress")
                yield StepTree(self.lab, id="tree")
                yield Static(legend(), id="legend")
            with Vertical(id="right"):
                yield Vertical(id="detail-box")
                yield LogPane(self.lab.masker, id="log-pane")
        yield Footer()

    def on_mount(self) -> None:
        self.theme = self.theme_name
        # Events only come while the engine works: the timer runs only then.
        self._drain_timer = self.set_interval(self.DRAIN_INTERVAL, self.drain_events,
                                              pause=True)
        self.load_identity()
        self.serve_databricks_api()
        tree = self.query_one(StepTree)
        tree.focus()
        self.refresh_progress()

    @on(StepTree.Populated)
    def tree_populated(self) -> None:
        # The tree knows its lines only after its next layout.
        self.step_tree.call_after_refresh(self.select_initial_step)

    WIDE = 110
    """From this width the tree has room for its status words."""

    def on_resize(self, event: events.Resize) -> None:
        tree = self.step_tree
        wide = event.size.width >= self.WIDE
        if tree.with_words != wide:
            tree.with_words = wide
            tree.refresh_statuses(self.running)

    def select_initial_step(self) -> None:
        tree = self.step_tree
        if self.focus_step:
            tree.select_step(self.focus_step)
            return
        first = next(iter(self.lab.catalog), None)
        if first is not None:
            tree.select_step(first.id)

    @property
    def step_tree(self) -> StepTree:
        return self.query_one(StepTree)

    @property
    def log_pane(self) -> LogPane:
        return self.query_one(LogPane)

    @property
    def detail(self) -> StepDetail | None:
        """The step detail on screen."""
        return self._current_detail

    # -- selection -------------------------------------------------------------------------

    @on(Tree.NodeHighlighted, "#tree")
    def node_highlighted(self, event: Tree.NodeHighlighted[Selection]) -> None:
        selection = event.node.data
        if selection is not None and selection != self.selection:
            self.selection = selection
            # Let the tree paint its cursor first; the detail follows a frame later.
            self.call_after_refresh(self.show_detail, selection)

    @on(Tree.NodeSelected, "#tree")
    async def node_selected(self, event: Tree.NodeSelected[Selection]) -> None:
        """Enter on a step goes to its first value that needs attention, else to Run."""
        selection = event.node.data
        if selection is None:
            return
        if self.detail is None or self.detail.selection != selection:
            # Keys typed fast: Enter may come before the detail of the new node is shown.
            self.selection = selection
            await self.show_detail(selection)
        detail = self.detail
        if detail is None:
            return
        form = detail.form
        if form is not None and not self.lab.read_only:
            if not form.focus_first_problem():
                form.rows()[0].input.focus()
        else:
            detail.query_one("#do-run").focus()

    async def show_detail(self, selection: Selection) -> None:
        """Show the selection's detail: built on first visit, then kept (hidden) and refreshed,
        so moving through the tree costs a relayout, not a rebuild."""
        if selection != self.selection:
            return  # the cursor moved on before we got here
        detail = self._details.get(selection)
        box = self.query_one("#detail-box")
        if detail is None:
            detail = StepDetail(self.lab, selection, notes=self.notes)
            detail.running = frozenset(self.running)
            detail.busy = self.job is not None
            self._details[selection] = detail
            await box.mount(detail)
        else:
            detail.busy = self.job is not None
            detail.reshow(self.running)
        for child in box.children:
            child.display = child is detail
        self._current_detail = detail

    @on(ValueForm.Saved)
    def value_saved(self) -> None:
        """A saved value may turn "needs input" into "not started" for every step that shares
        it: relabel the whole tree soon, once for a burst of keys."""
        self.lab.forget_values()
        if self._relabel_timer is not None:
            self._relabel_timer.stop()
        self._relabel_timer = self.set_timer(0.2, self.relabel)

    @on(ValueForm.Completed)
    def values_complete(self) -> None:
        detail = self.detail
        if detail is not None:
            detail.query_one("#do-run", Button).focus()

    def relabel(self) -> None:
        self._relabel_timer = None
        self.step_tree.refresh_statuses(self.running)
        detail = self.detail
        if detail is not None:
            detail.refresh_state(self.running)

    def go_to_step(self, step_id: str, env: str | None = None) -> None:
        """Select a step in the tree (the command palette's target)."""
        tree = self.step_tree
        tree.select_step(step_id, env)
        tree.focus()

    # -- events from the engine ------------------------------------------------------------

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

    def refresh_statuses(self, *, reports: bool = False) -> None:
        self.lab.forget_values()
        self.step_tree.refresh_statuses(self.running)
        self.refresh_progress()
        detail = self.detail
        if detail is not None:
            detail.busy = self.job is not None
            detail.refresh_state(self.running, reports=reports)

    def refresh_progress(self) -> None:
        done, total = self.lab.progress()
        self.query_one(ProgressLine).show(done, total)

    # -- identity --------------------------------------------------------------------------

    @work(thread=True, group="identity", exit_on_error=False, description="identity")
    def load_identity(self) -> dict[str, str]:
        return self.lab.identity()

    # -- the local sandbox's Databricks REST API -------------------------------------------

    @work(thread=True, group="databricks-api", exclusive=True, exit_on_error=False,
          description="Databricks REST API")
    def serve_databricks_api(self) -> str | None:
        """Serve the sandbox while the app is open, so the CLI profiles work (tried again
        after each job: the Infrastructure steps make the sandbox)."""
        from labtui.targets.local.databricks_api.background import serve_in_background

        if self.lab.session is None or self.databricks_api is not None:
            return None
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
            self.log_pane.add_lines([self.lab.masker.redact(said)])

    # -- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("run", "run_again", "verify", "plan", "rollback") and (
                self.lab.read_only or self.job is not None):
            return None
        if action == "cancel_step":
            return self.job is not None and not self.lab.read_only
        if action == "back_to_tree":
            return self.screen.maximized is not None or not isinstance(self.focused, StepTree)
        return True

    def action_toggle_log(self) -> None:
        """Open or fold the log pane (it opens by itself while a step works)."""
        self._log_opened_for_job = False
        self.log_pane.show(not self.log_pane.is_open)

    def _actionable(self, action: str) -> Selection | None:
        """The selection to act on, or None after telling the attendee why not."""
        selection = self.selection
        if selection is None or self.lab.read_only or self.job is not None:
            return None
        detail = self.detail
        form = detail.form if detail is not None else None
        if action != "rollback" and form is not None and not form.valid:
            problems = form.problems()
            self.notify("\n".join(problems), title="Fill in the values first", severity="error")
            form.focus_first_problem()
            return None
        return selection

    def action_run(self, force: bool = False) -> None:
        selection = self._actionable("run")
        if selection is not None:
            self.start(Job("plan", tuple(selection.units), force=force, then_run=True))

    def action_run_again(self) -> None:
        self.action_run(force=True)

    def action_verify(self) -> None:
        selection = self._actionable("verify")
        if selection is not None:
            self.start(Job("verify", tuple(selection.units)))

    def action_plan(self) -> None:
        selection = self._actionable("plan")
        if selection is not None:
            self.start(Job("plan", tuple(selection.units)))

    def action_rollback(self) -> None:
        selection = self._actionable("rollback")
        if selection is None:
            return
        units = tuple(selection.units)
        lines: list[Text | str] = []
        for unit in reversed(units):
            changes = self.lab.engine.rollback_plan(unit)
            for change in changes:
                lines.append(Text(f"- delete {change.kind} {self.lab.masker.redact(change.ref)}",
                                  style="red"))
        if not lines:
            lines.append("Nothing is recorded as created by this step; rollback only resets "
                         "its status to not started.")
        else:
            lines.insert(0, "These will be deleted, newest first:")
        self.push_screen(
            ConfirmScreen(f"Roll back {selection.label}?", lines, yes="Roll back",
                          no="Keep them", danger=True),
            lambda yes: self.start(Job("rollback", units)) if yes else None)

    @on(StepDetail.ActionPressed)
    def action_button(self, message: StepDetail.ActionPressed) -> None:
        actions = {"run": self.action_run, "verify": self.action_verify,
                   "plan": self.action_plan, "rollback": self.action_rollback}
        actions[message.action]()

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
        if job.action == "run":
            return engine.run(units, force=job.force, with_requires=job.with_requires)
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
        engine = self.lab.engine
        units = engine.units_to_run(job.units, with_requires=job.with_requires)
        return [unit for unit in units
                if unit in job.units or engine.status(unit) != Status.DONE]

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
        run = Job("run", plan.units, force=plan.force, with_requires=plan.with_requires)
        title = f"Run {plan.label}" + (" and the steps it needs?" if plan.with_requires else "?")
        self.push_screen(ConfirmScreen(title, lines, yes="Run"),
                         lambda yes: self.start(run) if yes else None)

    def job_failed(self, job: Job, error: BaseException) -> None:
        masker = self.lab.masker
        if isinstance(error, ValuesError):
            self.notify("\n".join(masker.redact(p) for p in error.problems),
                        title="Values needed first", severity="error", timeout=15)
            detail = self.detail
            if detail is not None and detail.form is not None:
                detail.form.focus_first_problem()
            return
        if isinstance(error, RequirementsError):
            lines: list[Text | str] = [f"{error.unit.label} needs these done first:"]
            lines += [Text(f"  {unit.label} — {unit.step.title}", style="bold")
                      for unit in error.missing]
            lines.append("Run them first, then it? (You see the plan of all of them next.)")
            again = Job("plan", job.units, force=job.force, with_requires=True, then_run=True)
            self.push_screen(
                ConfirmScreen("Other steps come first", lines, yes="Run them too"),
                lambda yes: self.start(again) if yes else None)
            return
        self.notify(masker.redact(f"{type(error).__name__}: {error}"),
                    title=f"{job.action} stopped", severity="error", timeout=15)

    # -- cancelling and quitting -----------------------------------------------------------

    def action_cancel_step(self) -> None:
        job = self.job
        if job is None:
            return
        self.push_screen(
            ConfirmScreen(f"Cancel {job.action} {job.label}?",
                          ["The step stops at its next safe point. What it created so far "
                           "stays in the journal; Rollback removes it."],
                          yes="Cancel it", no="Let it run", danger=True),
            lambda yes: self.cancel_job() if yes else None)

    def cancel_job(self) -> None:
        if self.job is not None:
            self.lab.engine.cancel()
            self.log_pane.add_lines(["■ cancelling at the next safe point …"])

    def action_request_quit(self) -> None:
        job = self.job
        if job is None:
            self.exit(0)
            return
        if isinstance(self.screen, ConfirmScreen):
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.quit_when_idle = True
                self.cancel_job()

        self.push_screen(
            ConfirmScreen(f"{job.action} {job.label} is still working",
                          ["Cancel it cleanly and quit? What it created so far stays in the "
                           "journal; Rollback removes it next time."],
                          yes="Cancel and quit", no="Keep working", danger=True),
            answer)

    # -- log, help, focus ------------------------------------------------------------------

    def action_filter_log(self) -> None:
        if not self.log_pane.is_open:
            self.log_pane.show(True)
        self.query_one("#log-filter", Input).focus()

    def action_save_log(self) -> None:
        folder = (Path(tempfile.gettempdir()) if self.lab.read_only
                  else self.lab.workspace.path / "logs")
        try:
            path = self.log_pane.save(folder)
        except OSError as exc:
            self.notify(f"cannot save the log: {exc.strerror or exc}", severity="error")
            return
        self.notify(str(path), title="Log saved")

    def action_maximize_panel(self) -> None:
        focused = self.focused
        panel: Widget | None = None
        for candidate in (focused.ancestors_with_self if focused else []):
            if isinstance(candidate, (StepDetail, LogPane, StepTree)):
                panel = candidate
                break
        if panel is not None:
            self.screen.maximize(panel, container=False)

    def action_back_to_tree(self) -> None:
        if self.screen.maximized is not None:
            self.screen.minimize()
            return
        self.step_tree.focus()

    def action_help(self) -> None:
        from labtui.app.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        if not self.is_screen_installed("help"):
            self.install_screen(HelpScreen(), "help")  # built once, shown at once after
        self.push_screen("help")

    def on_unmount(self) -> None:
        with self._databricks_api_lock:
            self._unmounted = True
            serving, self.databricks_api = self.databricks_api, None
        if serving is not None:
            serving.close()
        if not self.lab.read_only and self.job is not None:
            self.lab.engine.cancel()


def build_app(options: SessionOptions, *, focus: str | None = None,
              catalog: Catalog | None = None, theme: str | None = None) -> LabApp:
    """The app on a workspace: the one factory for the command line and the tests.

    Raises:
        CatalogError: `focus` names no step. WorkspaceError, ValuesError: as `Session` does.
    """
    lab = Lab.open(options, catalog=catalog)
    try:
        if focus is not None:
            lab.catalog.get(focus)
    except BaseException:
        lab.close()
        raise
    return LabApp(lab, focus=focus, theme_name=theme)

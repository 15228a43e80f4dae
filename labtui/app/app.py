"""The Textual app: the step tree, the selected step's detail, the live log.

The app holds no step logic: every action is one engine call in a thread worker, and what the
engine says arrives as events, drained from `EventBuffer` on a timer. `build_app` is the one
factory for the command line and the tests.
"""

from __future__ import annotations

import inspect
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
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
from labtui.app.model import Lab, Section, Selection, TreeNodeData, UnitKey, unit_key
from labtui.app.questions import rollback_question, run_many_question, solve_question
from labtui.app.section_detail import SectionDetail
from labtui.app.step_detail import STEP_ACTION_PREFIX, StepDetail
from labtui.app.step_tree import ProgressLine, StepTree, legend
from labtui.app.value_form import FieldRow, ValueForm
from labtui.catalog import Catalog, Unit
from labtui.engine import RequirementsError, Result
from labtui.events import LogLine, Progress, StepFinished, StepStarted
from labtui.session import SessionOptions
from labtui.values import ValuesError


def step_commands() -> type[Provider]:
    """The palette's step search, imported when the palette first opens (not at start-up)."""
    from labtui.app.commands import StepCommands

    return StepCommands


def action_commands() -> type[Provider]:
    """The palette's actions (run, verify, solve …), imported when the palette first opens."""
    from labtui.app.commands import ActionCommands

    return ActionCommands


EDITABLE_OUTPUT = "test-file"
"""The output where a manual step publishes the absolute path of the file the attendee
writes (write-test's test file): what Edit opens."""

PLAN_SIGNS = {"create": "+", "change": "~", "delete": "-", "keep": "="}
PLAN_STYLES = {"create": "green", "change": "yellow", "delete": "red", "keep": "dim"}


@dataclass(frozen=True)
class Job:
    """One engine call the app makes: an action on some units."""

    action: str
    units: tuple[Unit, ...]
    force: bool = False
    with_requires: bool = False
    solve_manual: bool = False
    """A run that fills in the reference answer of the manual steps it meets."""
    then_run: bool = field(default=False)
    """A plan shown before a run: when it succeeds, ask, then run."""
    act: str = ""
    """A person's action on the step (approve, reject: `labtui.actions`), with `inputs`."""
    inputs: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return ", ".join(unit.label for unit in self.units)


class LabApp(App[int]):
    """labtui's app. Thin: layout, key bindings, and handing work to the engine."""

    CSS_PATH = "app.tcss"
    TITLE = "labtui"
    COMMANDS = App.COMMANDS | {action_commands, step_commands}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    DRAIN_INTERVAL = 0.1
    """Seconds between log flushes: ten a second looks live and leaves the keys room."""
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # as WIDE below
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    # The footer shows what fits in 80 columns, Quit and Help included; the help screen and
    # the command palette list everything.
    BINDINGS = [
        Binding("r", "run", "Run"),
        Binding("R", "run_again", "Run again", show=False),
        Binding("v", "verify", "Verify"),
        Binding("p", "plan", "Plan", show=False),
        Binding("u", "rollback", "Rollback", show=False),
        Binding("s", "solve", "Solve"),
        Binding("e", "edit", "Edit"),
        Binding("c", "cancel_step", "Cancel"),
        Binding("l", "toggle_log", "Log"),
        Binding("g", "show_guide", "Lab text", show=False),
        Binding("L", "focus_log", "Focus log", show=False),
        Binding("slash", "filter_log", "Filter log", show=False),
        Binding("ctrl+s", "save_log", "Save log", show=False),
        Binding("m", "maximize_panel", "Maximize", show=False),
        Binding("escape", "back_to_tree", "Tree"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "request_quit('q')", "Quit"),
        Binding("ctrl+c,ctrl+q", "request_quit", "Quit", show=False, priority=True),
    ]

    LETTER_ACTIONS = frozenset({"run", "run_again", "verify", "plan", "rollback", "solve",
                                "edit", "cancel_step", "toggle_log", "focus_log",
                                "filter_log", "maximize_panel", "help"})
    """Actions on a printable key: never fired while the attendee types in an input."""

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
        """The step (or environment) whose detail is shown."""
        self.section: Section | None = None
        """The section whose node has the cursor (then actions take on all its steps)."""
        self.quit_when_idle = False
        self._relabel_timer: Timer | None = None
        self._drain_timer: Timer | None = None
        self._details: dict[Selection, StepDetail] = {}
        self._current_detail: StepDetail | None = None
        self._section_details: dict[str, SectionDetail] = {}
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
    def node_highlighted(self, event: Tree.NodeHighlighted[TreeNodeData]) -> None:
        selection = event.node.data
        self.call_after_refresh(self.refresh_bindings)  # Solve and Edit: manual steps only
        if isinstance(selection, Section):
            self.section = selection
            self.call_after_refresh(self.show_section, selection)
            return
        self.section = None
        if selection is not None and (selection != self.selection or self.detail is None
                                      or not self.detail.display):
            self.selection = selection
            # Let the tree paint its cursor first; the detail follows a frame later.
            self.call_after_refresh(self.show_detail, selection)

    @on(Tree.NodeSelected, "#tree")
    async def node_selected(self, event: Tree.NodeSelected[TreeNodeData]) -> None:
        """Enter on a step goes to its first value that needs attention, else to Run."""
        selection = event.node.data
        if not isinstance(selection, Selection):
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
        await self.show_guide_of(selection)

    async def show_section(self, section: Section) -> None:
        """Show what a section holds (its steps and their statuses) while its node is
        selected; the step details stay built, hidden."""
        if section != self.section:
            return
        view = self._section_details.get(section.name)
        box = self.query_one("#detail-box")
        if view is None:
            view = self._section_details[section.name] = SectionDetail(self.lab, section)
            await box.mount(view)
        view.refresh_state(self.running)
        for child in box.children:
            child.display = child is view

    @on(ValueForm.Edited)
    def value_saved(self) -> None:
        """A saved value may turn "needs input" into "not done" for every step that shares
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
        if not self.query(StepTree):
            return  # the app is closing: its screen is gone
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
        if self.section is not None and self.section.name in self._section_details:
            self._section_details[self.section.name].refresh_state(self.running)

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

    # -- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        typed = action in self.LETTER_ACTIONS or (action == "request_quit" and parameters)
        if typed and isinstance(self.focused, Input):
            return None  # a letter typed into a value or the filter is text, not a command
        if typed and action != "help" and isinstance(self.screen, ModalScreen):
            return False  # a dialog or the help is up: its own keys answer, nothing else
        return self.action_state(action)

    def action_state(self, action: str) -> bool | None:
        """Whether an action applies now: True, None (shown, not now), False (hidden)."""
        if action in ("solve", "edit"):
            # Only a manual step has a reference answer and a file the attendee writes.
            target = self.target
            manual = isinstance(target, Selection) and target.step.manual
            if not manual or self.lab.read_only:
                return False
            return None if self.job is not None else True
        if action in ("run", "run_again", "verify", "plan", "rollback", "run_everything",
                      "run_section") and (
                self.lab.read_only or self.job is not None):
            return None
        if action == "step_action":
            target = self.target
            if not isinstance(target, Selection) or not target.step.actions or \
                    self.lab.read_only:
                return False
            return None if self.job is not None else True
        if action == "cancel_step":
            return self.job is not None and not self.lab.read_only
        if action == "back_to_tree":
            return self.screen.maximized is not None or not isinstance(self.focused, StepTree)
        return True

    async def action_show_guide(self) -> None:
        """Open (or close) the lab's text for the selected step, with its commands by hand."""
        from labtui.app.lab_guide import LabGuide

        main = self.query_one("#main")
        shown = self.query("#lab-guide")
        main.set_class(not shown, "-with-guide")
        if shown:
            await shown.remove()
            return
        await main.mount(LabGuide(id="lab-guide"))
        if self.selection is not None:
            await self.show_guide_of(self.selection)

    async def show_guide_of(self, selection: Selection) -> None:
        """Keep an open guide on the selected step."""
        from labtui.app.lab_guide import LabGuide

        for guide in self.query("#lab-guide").results(LabGuide):
            await guide.show(self.lab, selection)

    @property
    def target(self) -> Selection | Section | None:
        """What an action takes on: the section whose node has the cursor, else the step."""
        return self.section if self.section is not None else self.selection

    def palette_action(self, action: str, *arguments: object) -> None:
        """An action chosen in the command palette: the checks of its key, without the
        typing guard (the palette is where it was typed)."""
        if self.action_state(action) is True:
            result = getattr(self, f"action_{action}")(*arguments)
            if inspect.isawaitable(result):  # an async action (the lab text panel)
                self.run_worker(result, group="palette-action")
        else:
            self.notify(f"{action.replace('_', ' ')}: not now (a step is working, or the "
                        "selection does not have it)", severity="warning")

    def action_toggle_log(self) -> None:
        """Open or fold the log pane (it opens by itself while a step works)."""
        self._log_opened_for_job = False
        self.log_pane.show(not self.log_pane.is_open)

    def action_focus_log(self) -> None:
        """Open the log and put the keys in it (arrows and Page keys scroll; m maximises)."""
        self._log_opened_for_job = False
        if not self.log_pane.is_open:
            self.log_pane.show(True)
        self.log_pane.log_widget.focus()

    def _actionable(self, action: str) -> Selection | Section | None:
        """What to act on, or None after telling the attendee why not."""
        target = self.target
        if target is None or self.lab.read_only or self.job is not None:
            return None
        if isinstance(target, Section):
            return target
        detail = self.detail
        form = detail.form if detail is not None else None
        if action != "rollback" and form is not None and not form.valid:
            problems = form.problems()
            self.notify("\n".join(problems), title="Fill in the values first", severity="error")
            form.focus_first_problem()
            return None
        return target

    def action_run(self, force: bool = False) -> None:
        target = self._actionable("run")
        if isinstance(target, Section):
            self.confirm_run_all(target.units, f"every step of {target.name}", force=force)
        elif target is not None:
            self.start(Job("plan", tuple(target.units), force=force, then_run=True))

    def action_run_again(self) -> None:
        self.action_run(force=True)

    def action_run_everything(self, solve_manual: bool = False) -> None:
        """The whole lab in order; what is done already is verified and skipped."""
        if self.lab.read_only or self.job is not None:
            return
        self.confirm_run_all(self.lab.catalog.units(), "the whole lab",
                             solve_manual=solve_manual)

    def action_run_section(self) -> None:
        """Every step of the section of the selected step (or of the selected section)."""
        target = self.target
        if target is None or self.lab.read_only or self.job is not None:
            return
        name = target.name if isinstance(target, Section) else target.step.section
        steps = next(steps for section, steps in self.lab.catalog.sections()
                     if section == name)
        self.confirm_run_all(Section(name, tuple(steps)).units, f"every step of {name}")

    def confirm_run_all(self, units: list[Unit], what: str, *, force: bool = False,
                        solve_manual: bool = False) -> None:
        """Ask before a run of many steps (with what they need, in the lab's order)."""
        units = self.lab.catalog.closure(units)
        job = Job("run", tuple(units), force=force, with_requires=True,
                  solve_manual=solve_manual)
        try:
            self.lab.engine.check_values(units)  # a missing value is named before asking
        except ValuesError as missing:
            self.job_failed(job, missing)
            return
        self.ask(run_many_question(self.lab, units, what, running=self.running, force=force,
                                   solve_manual=solve_manual),
                 lambda: self.start(job))

    def action_verify(self) -> None:
        target = self._actionable("verify")
        if target is not None:
            self.start(Job("verify", tuple(target.units)))

    def action_plan(self) -> None:
        target = self._actionable("plan")
        if target is not None:
            self.start(Job("plan", tuple(target.units)))

    def action_rollback(self) -> None:
        target = self._actionable("rollback")
        if target is None:
            return
        units = tuple(target.units)
        dependents = [dependent for dependent in self.done_dependents(units)
                      if dependent not in units]
        self.ask(rollback_question(self.lab, target.label, units, dependents),
                 lambda: self.start(Job("rollback", units)))

    def done_dependents(self, units: tuple[Unit, ...]) -> list[Unit]:
        """The done units that need any of `units`, each once, in catalogue order."""
        found: list[Unit] = []
        for unit in units:
            for dependent in self.lab.engine.done_dependents(unit):
                if dependent not in found:
                    found.append(dependent)
        return found

    def action_solve(self) -> None:
        """A manual step: fill in the lab's reference answer, then verify it."""
        target = self._actionable("solve")
        if not isinstance(target, Selection) or not target.step.manual:
            return
        units = tuple(target.units)
        self.ask(solve_question(target), lambda: self.start(Job("solve", units)))

    def action_edit(self) -> None:
        """A manual step's file (write-test's test file) in the attendee's $EDITOR; the step
        is verified when the editor closes."""
        from textual.app import SuspendNotSupported

        from labtui.app.external import editor_command, run_editor

        target = self.target
        if not isinstance(target, Selection) or not target.step.manual or self.job is not None:
            return
        unit = target.units[0]
        found = self.lab.workspace.get_output(unit.id, unit.env, EDITABLE_OUTPUT)
        if not found:
            self.notify(f"{unit.label} has not said where its file is yet: run verify first "
                        "(v), then edit (e)", title="No file to edit yet", severity="warning")
            return
        path = Path(found)
        command = editor_command()
        if command is None:
            self.notify(f"Set $EDITOR (for example EDITOR=nano) to edit it from here. The "
                        f"file: {path}", title="No editor set", severity="warning", timeout=15)
            return
        try:
            with self.suspend():
                problem = run_editor(command, path)
        except SuspendNotSupported:
            self.notify(f"This terminal cannot hand over to an editor: open {path} yourself",
                        title="Cannot start the editor", severity="warning", timeout=15)
            return
        if problem is not None:
            self.notify(problem, title="Editor", severity="error", timeout=15)
            return
        self.start(Job("verify", (unit,)))

    def action_open_artifacts(self) -> None:
        """The selected step's artifacts folder (reports, metrics) in the file manager; the
        lab's artifacts folder while the step has made none."""
        from labtui.app.external import open_folder

        folder = self.lab.artifacts.resolve()
        note = ""
        target = self.target
        if isinstance(target, Selection) and len(target.units) == 1:
            own = self.lab.workspace.artifacts_folder(target.units[0].id,
                                                     target.units[0].env).resolve()
            if own.is_dir():
                folder = own
            else:
                note = f"{target.label} has made none yet; the lab's folder: "
        if not folder.is_dir():
            self.notify(f"Nothing is there yet: {folder} is made by the first run",
                        title="No artifacts yet", severity="warning")
            return
        if open_folder(folder):
            self.notify(f"{note}{folder}", title="Artifacts opened")
            return
        self.copy_to_clipboard(str(folder))
        self.notify(f"{note}{folder} (copied: no file manager was found to open it)",
                    title="Artifacts folder", timeout=15)

    def action_reset_value(self) -> None:
        """The focused value goes back to its default (the palette's way to ctrl+r)."""
        focused = self.focused
        row = next((node for node in (focused.ancestors_with_self if focused else [])
                    if isinstance(node, FieldRow)), None)
        if row is None:
            self.notify("Put the cursor in a value first (Tab), then ctrl+r",
                        title="Which value?", severity="warning")
            return
        form = next(node for node in row.ancestors if isinstance(node, ValueForm))
        form.reset(row)

    @on(StepDetail.ActionPressed)
    def action_button(self, message: StepDetail.ActionPressed) -> None:
        if message.action.startswith(STEP_ACTION_PREFIX):
            self.action_step_action(message.action.removeprefix(STEP_ACTION_PREFIX))
            return
        actions = {"run": self.action_run, "verify": self.action_verify,
                   "plan": self.action_plan, "rollback": self.action_rollback}
        actions[message.action]()

    def action_step_action(self, name: str) -> None:
        """A person's action on the selected step (approve, reject): ask for its inputs in a
        small form, then hand it to the engine."""
        target = self.target
        if not isinstance(target, Selection) or self.lab.read_only or self.job is not None:
            return
        offered = {action.name: action for action in target.step.actions}
        if name not in offered:
            self.notify(f"{target.step.id} offers no {name}", severity="warning")
            return
        if len(target.units) != 1:
            self.notify("Choose one environment of the step first", severity="warning")
            return
        unit = target.units[0]
        from labtui.app.action_form import ActionForm

        def answered(inputs: dict[str, str] | None) -> None:
            if inputs is not None and self.job is None:
                self.start(Job(name, (unit,), act=name, inputs=tuple(inputs.items())))

        self.push_screen(ActionForm(offered[name], target.step.title), answered)

    # -- dialogs ---------------------------------------------------------------------------

    def ask(self, dialog: ConfirmScreen, on_yes: Callable[[], None], *,
            about: Job | None = None) -> None:
        """Show a question; when it is answered, the keys go back where the attendee was.

        `about`: the running job the question is about. When that job ends first, the dialog
        says so and its Yes does nothing (`job_ended` closes it). Over an input the attendee
        was typing in, the dialog's letter keys are off: a typed y is not a Yes.
        """
        back_to = self.focused
        dialog.about = about
        dialog.letters = not isinstance(back_to, Input)

        def answered(yes: bool | None) -> None:
            self.call_after_refresh(self.restore_focus, back_to)
            if yes and (about is None or self.job is about):
                on_yes()

        self.push_screen(dialog, answered)

    def restore_focus(self, widget: Widget | None) -> None:
        """Focus `widget` again if it can still take the keys, else the step tree."""
        if not self.is_running or isinstance(self.screen, ModalScreen):
            return  # closing, or another dialog came up meanwhile: it has the keys
        if widget is not None and widget.is_attached and widget.focusable:
            widget.focus()
        else:
            for tree in self.query(StepTree):
                tree.focus()

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

    # -- cancelling and quitting -----------------------------------------------------------

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
        if self._relabel_timer is not None:
            self._relabel_timer.stop()
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

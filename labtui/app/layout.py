"""The app's screen: what it holds (the step tree, the selected step's or section's detail,
the live log, the lab text), what the cursor shows, dialogs, and the keys that move between
panels. The state every part of the app shares is set up here."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, on
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Static, Tree

from labtui.app.banner import Banner
from labtui.app.bridge import EventBuffer
from labtui.app.confirm import ConfirmScreen
from labtui.app.job import Job
from labtui.app.log_pane import LogPane
from labtui.app.model import Lab, Section, Selection, TreeNodeData, UnitKey
from labtui.app.section_detail import SectionDetail
from labtui.app.step_detail import StepDetail
from labtui.app.step_tree import ProgressLine, StepTree, legend
from labtui.app.value_form import ValueForm

if TYPE_CHECKING:
    from labtui.targets.local.databricks_api import DatabricksApiServer


class LabLayout(App[int]):
    """The screen of labtui's app and the state its parts share; `LabApp` adds the rest."""

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

    WIDE = 110
    """From this width the tree has room for its status words."""

    def on_resize(self, event: events.Resize) -> None:
        tree = self.step_tree
        wide = event.size.width >= self.WIDE
        if tree.with_words != wide:
            tree.with_words = wide
            tree.refresh_statuses(self.running)

    @on(StepTree.Populated)
    def tree_populated(self) -> None:
        # The tree knows its lines only after its next layout.
        self.step_tree.call_after_refresh(self.select_initial_step)

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

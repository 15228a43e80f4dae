"""The Textual app: the step tree, the selected step's detail, the live log.

The app holds no step logic: every action is one engine call in a thread worker, and what the
engine says arrives as events, drained from `EventBuffer` on a timer. `build_app` is the one
factory for the command line and the tests.

`LabApp` is thin: its keys, styles and start and end. What it is made of is in one module
each: `layout` (the screen, the cursor, dialogs, panels), `jobs` (engine calls in workers and
what comes back) and `actions` (what the keys do to the selection).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding

from labtui.app.actions import StepActions
from labtui.app.model import Lab
from labtui.app.step_tree import StepTree
from labtui.catalog import Catalog
from labtui.session import SessionOptions

if TYPE_CHECKING:
    from textual.command import Provider


def step_commands() -> type[Provider]:
    """The palette's step search, imported when the palette first opens (not at start-up)."""
    from labtui.app.commands import StepCommands

    return StepCommands


def action_commands() -> type[Provider]:
    """The palette's actions (run, verify, solve …), imported when the palette first opens."""
    from labtui.app.commands import ActionCommands

    return ActionCommands


class LabApp(StepActions):
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

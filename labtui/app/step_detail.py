"""The selected step: its status and actions, then what it produced (its published results and
what it created), what it does, the last verify's checks and its inputs. While values are
missing, the inputs come right after the actions instead."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Static

from labtui.app.model import Lab, Selection, UnitKey, unit_key
from labtui.app.step_tree import status_text
from labtui.app.value_form import ValueForm
from labtui.catalog import Unit

if TYPE_CHECKING:
    from labtui.app.pipeline_run import PipelineRunView

ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("run", "Run", "r"), ("verify", "Verify", "v"), ("plan", "Plan", "p"),
    ("rollback", "Rollback", "u"),
)
STEP_ACTION_PREFIX = "act-"
"""Button ids `do-act-<name>` are the step's own actions (`Step.actions`: approve, reject)."""


NEXT_STEP = {
    "needs input": "fill in the values below, then r runs it",
    "not done": "r runs it (you see the plan first)",
    "interrupted": "u rolls back what it made, or r runs it again",
    "failed": "fix what it says (see the checks below), then r runs it again",
    "drift": "r runs it again to repair it, u rolls it back",
    "done": "v checks it again, u rolls it back",
    "manual": "do it as the summary says; v checks it",
    "running": "the log below follows it; c cancels",
}
"""What the attendee can do next, by status: shown under the status, so no README is needed."""


class StepDetail(VerticalScroll):
    """Everything about one tree node; built on the first visit, refreshed in place when a
    status changes (so a half-typed value keeps its focus). What the step produced comes right
    after the actions, so a finished step shows its results on the first screen; when values
    are missing, the form comes before them, so it is on screen even in a small terminal."""

    ALLOW_MAXIMIZE = True
    can_focus = False  # Tab goes from the tree straight to the step's buttons and values

    class ActionPressed(Message):
        """A Run / Verify / Plan / Rollback button was pressed."""

        def __init__(self, action: str) -> None:
            super().__init__()
            self.action = action

    def __init__(self, lab: Lab, selection: Selection, *,
                 notes: Mapping[UnitKey, str] | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.notes: Mapping[UnitKey, str] = notes if notes is not None else {}
        """The app's notes on why the last action on a unit did not work (shared)."""
        self.lab = lab
        self.selection = selection
        self.running: frozenset[UnitKey] = frozenset()
        self.form_valid = True
        self.busy = False
        self._reports_seen: tuple[Any, ...] | None = None
        self._created_seen: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        step = self.selection.step
        title = Text(step.title, style="bold")
        yield Static(title, classes="step-title")
        where = f"{step.id} · {step.section}"
        if self.selection.env:
            where += f" · {self.selection.env}"
        elif step.per_environment:
            where += " · every environment"
        if step.manual:
            where += " · manual: you do it, Verify checks it"
        yield Static(Text(where, style="dim"), classes="step-where")
        yield Static("", id="step-status")
        with Horizontal(id="actions"):
            for action, label, key in ACTIONS:
                yield Button(f"{label} {key}", id=f"do-{action}", compact=True,
                             classes="action", variant="error" if action == "rollback"
                             else "primary" if action == "run" else "default")
            for person_action in step.actions:  # a person's acts: approve, reject …
                yield Button(person_action.label, compact=True, classes="action",
                             id=f"do-{STEP_ACTION_PREFIX}{person_action.name}")
        yield Vertical(id="pipeline-run")
        yield Vertical(id="reports")
        yield Vertical(id="created")
        if self.selection.fields():
            yield ValueForm(self.lab, self.selection, id="form")
        yield Static(step.summary, classes="step-summary")
        yield Static("", id="checks")

    def on_mount(self) -> None:
        self.query_one(".step-summary").display = bool(self.selection.step.summary)
        self._show_pipeline_run()
        self.refresh_state(self.running, reports=True)
        self.order_sections()

    def order_sections(self) -> None:
        """Values first while some are missing; otherwise what the step produced, what it
        does, its last checks, then the values."""
        form = self.form
        if form is None:
            return
        words = {self.lab.status_word(unit, self.running) for unit in self.selection.units}
        first = "needs input" in words and not form.valid
        anchor = self.query_one("#actions" if first else "#checks")
        if self.children.index(form) != self.children.index(anchor) + 1:
            self.move_child(form, after=anchor)

    def reshow(self, running: Collection[UnitKey]) -> None:
        """Shown again after another node: values may have been typed elsewhere."""
        form = self.form
        if form is not None:
            form.reload()
        self.refresh_state(running, reports=True)
        self.order_sections()

    def refresh_state(self, running: Collection[UnitKey], *, reports: bool = False) -> None:
        """Re-read status and checks (and what it produced, when a step finished) from the
        workspace."""
        self.running = frozenset(running)
        self._show_status()
        self._show_checks()
        if reports:
            self._show_reports()
            self._show_created()
            form = self.form
            if form is None or not form.has_focus_within:
                self.order_sections()
                self.scroll_home(animate=False)  # the status says how it ended
        self.update_buttons()

    @on(Button.Pressed, ".action")
    def action_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.ActionPressed((event.button.id or "").removeprefix("do-")))

    def update_buttons(self) -> None:
        busy = self.busy or bool(self.running)
        for button in self.query(".action").results(Button):
            action = (button.id or "").removeprefix("do-")
            disabled = self.lab.read_only or busy
            if action in ("run", "plan", "verify") and not self.form_valid:
                disabled = True
            button.disabled = disabled

    def _show_status(self) -> None:
        text = Text()
        words: list[str] = []
        for unit in self.selection.units:
            if len(text):
                text.append("\n")
            if unit.env:
                text.append(f"{unit.env}: ", style="bold")
            word = self.lab.status_word(unit, self.running)
            words.append(word)
            text.append_text(status_text(word))
            record = self.lab.record(unit)
            note = self.notes.get(unit_key(unit))
            if record and record.message and word in ("failed", "drift"):
                text.append(" — ")
                text.append(self.lab.masker.redact(record.message))
            elif note and word != "running":
                text.append(f" — ✗ {note}", style="red")
                words.append("failed")
        if not self.lab.read_only:
            for word in ("running", "failed", "interrupted", "drift", "needs input", "not done",
                         "manual", "done"):
                if word in words:
                    text.append(f"\n→ {NEXT_STEP[word]}", style="italic")
                    break
        self.query_one("#step-status", Static).update(text)

    def _show_checks(self) -> None:
        text = Text()
        for unit in self.selection.units:
            checks = self.lab.workspace.checks(unit.id, unit.env)
            if not checks:
                continue
            heading = f"Checks ({unit.env})" if unit.env else "Checks"
            text.append(f"{heading} — last verify\n", style="bold")
            for name, ok, message, hint in checks:
                text.append("  ✓ " if ok else "  ✗ ", style="green" if ok else "bold red")
                text.append(name, style="bold")
                if message:
                    text.append(f": {self.lab.masker.redact(message)}")
                text.append("\n")
                if not ok and hint:
                    text.append(f"      what to do: {self.lab.masker.redact(hint)}\n",
                                style="yellow")
        text.rstrip()
        box = self.query_one("#checks", Static)
        box.update(text)
        box.display = bool(len(text))

    def _heading(self, unit: Unit) -> str:
        return f"({unit.env})" if unit.env and len(self.selection.units) > 1 else ""

    def _show_reports(self) -> None:
        """Rebuild the results only when what was published changed (tables keep their
        cursor): the files the workspace remembers the units published, never a guess."""
        published = [(unit, self.lab.published(unit)) for unit in self.selection.units]
        signature = tuple((unit_key(unit), name, str(path),
                           path.stat().st_mtime if path.is_file() else None)
                          for unit, files in published for name, path in files.items())
        if signature == self._reports_seen:
            return
        self._reports_seen = signature
        from labtui.app.results import ReportsView, has_reports  # tables load when needed

        box = self.query_one("#reports", Vertical)
        box.remove_children()
        views = [ReportsView(files, self._heading(unit))
                 for unit, files in published if has_reports(files)]
        if views:
            box.mount_all(views)
        box.display = bool(views)

    def _show_pipeline_run(self) -> None:
        """A step that follows a pipeline run shows it live: stages, jobs, steps and the
        selected step's log (`labtui.app.pipeline_run`), moving on to a newer run."""
        units = [unit for unit in self.selection.units if self.lab.follows_pipeline(unit)]
        box = self.query_one("#pipeline-run", Vertical)
        box.display = bool(units) and not self.lab.read_only
        if not box.display:
            return
        from labtui.app.pipeline_run import PipelineRunView, PortRunSource

        unit = units[0]
        box.mount(PipelineRunView(PortRunSource(lambda: self.lab.pipeline_run(unit)),
                                  title="Last run", keep_polling=True, id="step-run"))

    def on_pipeline_run_view_waiting(self, message: PipelineRunView.Waiting) -> None:
        """A run waits for an approval: its approve / reject buttons stand out until then."""
        waiting = message.waiting
        for name, variant in (("approve", "success"), ("reject", "error")):
            for button in self.query(f"#do-{STEP_ACTION_PREFIX}{name}").results(Button):
                button.variant = variant if waiting else "default"

    def _show_created(self) -> None:
        """Rebuild what the units created when it changed (a run or rollback finished)."""
        from labtui.app.created import CreatedView
        from labtui.app.results import SHOWN

        made = []
        for unit in self.selection.units:
            files = {name: path for name, path in self.lab.published(unit).items()
                     if name not in SHOWN}
            made.append((unit, self.lab.created(unit), files))
        signature = tuple((unit_key(unit), created, tuple(files.items()))
                          for unit, created, files in made)
        if signature == self._created_seen:
            return
        self._created_seen = signature
        box = self.query_one("#created", Vertical)
        box.remove_children()
        views = [CreatedView(created, files, self._heading(unit))
                 for unit, created, files in made if created or files]
        if views:
            box.mount_all(views)
        box.display = bool(views)

    def on_value_form_validity(self, message: ValueForm.Validity) -> None:
        self.form_valid = message.valid
        self.update_buttons()

    @property
    def form(self) -> ValueForm | None:
        forms = self.query(ValueForm)
        return forms.first() if forms else None

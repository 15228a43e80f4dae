"""The app's actions on the step tree: run, verify, plan, rollback, solve, edit … on the
selected step, environment or section, each checked (does it apply now?) and asked about
where it removes or runs much, then handed to the engine as a job."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.screen import ModalScreen
from textual.widgets import Input

from labtui.app.job import Job
from labtui.app.model import Section, Selection
from labtui.app.questions import rollback_question, run_many_question, solve_question
from labtui.app.step_detail import STEP_ACTION_PREFIX, StepDetail
from labtui.app.step_tree import StepTree
from labtui.app.value_form import FieldRow, ValueForm
from labtui.catalog import Unit
from labtui.engine import NotManual
from labtui.values import ValuesError

if TYPE_CHECKING:
    pass
from labtui.app.jobs import EngineJobs

EDITABLE_OUTPUT = "test-file"
"""The output where a manual step publishes the absolute path of the file the attendee
writes (write-test's test file): what Edit opens."""


class StepActions(EngineJobs):
    """What the keys, the buttons and the palette do to the selection."""

    LETTER_ACTIONS = frozenset({"run", "run_again", "verify", "plan", "rollback", "solve",
                                "edit", "cancel_step", "toggle_log", "focus_log",
                                "filter_log", "maximize_panel", "help"})
    """Actions on a printable key: never fired while the attendee types in an input."""

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
        if not isinstance(target, Selection):
            return
        try:  # what a solve takes on is the engine's to say, as for --solve
            scope = self.lab.engine.solve_scope(target.units)
        except NotManual:
            return  # offered on manual steps only (the footer, the palette)
        self.ask(solve_question(target),
                 lambda: self.start(Job(scope.action, scope.units, solve_manual=True)))

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

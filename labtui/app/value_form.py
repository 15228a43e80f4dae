"""The step's inputs as a form: pre-filled from the workspace and derived values, checked as
the attendee types (the error names the field and its rule), secrets masked with a reveal
toggle, and every valid value saved to the workspace as it is entered."""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.message import Message
from textual.widgets import Button, Input, Static

from labtui.app.model import Lab, Selection
from labtui.step import Field

EXPLICIT_HINT = "set outside the app; change it where it was set"


def field_problem(field: Field, value: str) -> str | None:
    """What is wrong with `value` for `field` (naming the field and its rule), or None."""
    if value == "":
        if not field.required:
            return None
        rule = field.check("")
        if rule is None:
            return f"{field.name}: required"
        rule = re.sub(r" \(got 0 characters\)$", "", rule.split(": ", 1)[1])
        return f"{field.name}: required — {rule}"
    return field.check(value)


@dataclass
class FieldState:
    """What the form knows about one input."""

    field: Field
    origin: str
    value: str
    edited: bool = False


class FieldRow(Vertical):
    """Label, input (with a reveal toggle for secrets) and the field's problem or help."""

    def __init__(self, field: Field, value: str, origin: str, *, editable: bool) -> None:
        super().__init__(classes="field-row")
        self.field = field
        self._value = value
        self._origin = origin
        self._editable = editable

    def _label_text(self) -> str:
        field = self.field
        required = "" if field.required else " (optional)"
        return (f"[b]{escape(field.label)}[/b] [dim]{field.name}{required} · "
                f"{escape(self._origin or 'not set')}[/dim]")

    def set_origin(self, origin: str) -> None:
        if origin != self._origin:
            self._origin = origin
            self.query_one(".field-label", Static).update(self._label_text())

    def compose(self) -> ComposeResult:
        field = self.field
        yield Static(self._label_text(), classes="field-label", markup=True)
        with Horizontal(classes="field-line"):
            yield Input(self._value, compact=True,
                        password=field.is_secret, id=f"input-{field.name}",
                        disabled=not self._editable, classes="field-input")
            if field.is_secret:
                yield Button("show", id=f"reveal-{field.name}", compact=True,
                             classes="reveal")
        yield Static("", classes="field-problem")

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    def show_problem(self, problem: str | None) -> None:
        note = self.query_one(".field-problem", Static)
        if problem:
            note.update(problem)
        elif not self._editable:
            note.update(EXPLICIT_HINT)
        else:
            note.update(self.field.help)
        note.set_class(bool(problem), "-error")
        note.display = bool(problem or self.field.help or not self._editable)
        self.input.set_class(bool(problem), "-invalid")

    @on(Button.Pressed, ".reveal")
    def toggle_reveal(self, event: Button.Pressed) -> None:
        event.stop()
        self.input.password = not self.input.password
        event.button.label = "show" if self.input.password else "hide"


class ValueForm(Vertical):
    """The inputs of the selected step, in the order the step declares them."""

    class Validity(Message):
        """Posted when the form becomes valid or invalid."""

        def __init__(self, form: ValueForm, valid: bool) -> None:
            super().__init__()
            self.form = form
            self.valid = valid

    class Saved(Message):
        """Posted after a value was saved to the workspace."""

    def __init__(self, lab: Lab, selection: Selection, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lab = lab
        self.selection = selection
        self.states: dict[str, FieldState] = {}
        self._valid: bool | None = None

    @property
    def env(self) -> str | None:
        return self.selection.env

    def compose(self) -> ComposeResult:
        resolved = self.lab.resolver.resolve(self.env)
        yield Static(f"[b]Values[/b] [dim]{self.selection.scope_text} — saved as you type[/dim]",
                     classes="section-title", markup=True)
        for field in self.selection.step.inputs:
            origin = resolved.origins.get(field.name, "")
            value = resolved.values.get(field.name, "")
            self.states[field.name] = FieldState(field, origin, value)
            editable = not self.lab.read_only and origin in ("", "workspace", "derived")
            yield FieldRow(field, value, origin, editable=editable)

    def on_mount(self) -> None:
        for row in self.query(FieldRow):
            row.show_problem(field_problem(row.field, row.input.value)
                             if row.input.value or row.field.required else None)
        self._post_validity()

    def rows(self) -> list[FieldRow]:
        return list(self.query(FieldRow))

    def problems(self) -> list[str]:
        """Every problem of the form's current values, one line each."""
        found = []
        for row in self.rows():
            problem = field_problem(row.field, row.input.value)
            if problem:
                found.append(problem)
        return found

    @property
    def valid(self) -> bool:
        return not self.problems()

    def focus_first_problem(self) -> bool:
        for row in self.rows():
            if field_problem(row.field, row.input.value):
                row.input.focus()
                return True
        return False

    @on(Input.Changed, ".field-input")
    def value_changed(self, event: Input.Changed) -> None:
        event.stop()
        row = next((r for r in self.rows() if r.input is event.input), None)
        if row is None:
            return
        problem = field_problem(row.field, event.value)
        row.show_problem(problem)
        state = self.states[row.field.name]
        if event.value == state.value:
            # Textual reports the value set when the input is built; only typing counts.
            self._post_validity()
            return
        state.value = event.value
        if problem is None and not self.lab.read_only:
            state.edited = True
            self._save(row.field, event.value)
            row.set_origin(state.origin if event.value else "not set")
            self._refresh_derived()
            self.post_message(self.Saved())
        self._post_validity()

    def _save(self, field: Field, value: str) -> None:
        workspace = self.lab.workspace
        if value == "":
            workspace.delete_value(field.name, self.env)
            return
        if field.is_secret:
            self.lab.masker.register(value)
        if workspace.get_value(field.name, self.env) != value:
            workspace.set_value(field.name, self.env, value, secret=field.is_secret)
        self.states[field.name].origin = "workspace"

    def _refresh_derived(self) -> None:
        """Derived values follow the values they derive from until the attendee edits them."""
        resolved = self.lab.resolver.resolve(self.env)
        for row in self.rows():
            state = self.states[row.field.name]
            if state.edited or state.origin not in ("derived", ""):
                continue
            value = resolved.values.get(row.field.name, "")
            if value != row.input.value:
                state.value = value
                with row.input.prevent(Input.Changed):
                    row.input.value = value
                row.show_problem(field_problem(row.field, value) if value else None)

    def _post_validity(self) -> None:
        valid = self.valid
        if valid != self._valid:
            self._valid = valid
            self.post_message(self.Validity(self, valid))

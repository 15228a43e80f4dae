"""The step's inputs as a form: pre-filled from the workspace and derived values, checked as
the attendee types (the error names the field and its rule), secrets masked with a reveal
toggle (ctrl+t; the button never takes the keys, so typing always lands in the input), ctrl+r
back to the default, and every valid value saved to the workspace as it is entered. An invalid
value is not saved: it is kept as the lab's draft, so the tree says the step needs input.

A value is shared by every step and environment (the prefix, the tenant id …) unless the lab
names it per environment (`{prefix}-db-dev`): those are saved for the environment of the form.
So the attendee types each shared value once, wherever they meet it first."""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
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


PLACEHOLDERS = {
    "guid": "a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47",
    "secret": "paste it here (hidden)",
    "path": "a file path",
    "int": "a whole number",
    "url": "https://…",
    "bool": "true or false",
}


def placeholder(field: Field) -> str:
    """What an empty input says, so it is obvious that it is where to type and what."""
    if field.choices:
        return " / ".join(field.choices)
    return PLACEHOLDERS.get(field.kind, f"type the {field.name} here")


@dataclass
class FieldState:
    """What the form knows about one input."""

    field: Field
    origin: str
    value: str
    edited: bool = False


class FieldRow(Vertical):
    """Label, input (with a reveal toggle for secrets) and the field's problem or help."""

    BINDINGS = [Binding("ctrl+t", "toggle_reveal", "Show/hide", show=False)]

    def __init__(self, field: Field, value: str, origin: str, *, editable: bool,
                 scope: str) -> None:
        super().__init__(classes="field-row")
        self.field = field
        self._value = value
        self._origin = origin
        self._editable = editable
        self._scope = scope
        self._problem: str | None = None

    def _label_text(self) -> str:
        field = self.field
        notes = [field.name, self._scope]
        if not field.required:
            notes.append("optional")
        if self._origin == "derived":
            notes.append("default")
        elif self._origin not in ("", "workspace"):
            notes.append(f"from {self._origin}")
        return f"[b]{escape(field.label)}[/b] [dim]{escape(' · '.join(notes))}[/dim]"

    def set_origin(self, origin: str) -> None:
        if origin != self._origin:
            self._origin = origin
            self.query_one(".field-label", Static).update(self._label_text())

    def compose(self) -> ComposeResult:
        field = self.field
        yield Static(self._label_text(), classes="field-label", markup=True)
        with Horizontal(classes="field-line"):
            yield Input(self._value, compact=True, placeholder=placeholder(field),
                        password=field.is_secret, id=f"input-{field.name}",
                        disabled=not self._editable, classes="field-input")
            if field.is_secret:
                reveal = Button("show", id=f"reveal-{field.name}", compact=True,
                                classes="reveal", tooltip="show or hide it (ctrl+t)")
                reveal.can_focus = False  # a click toggles; the keys stay in the input
                yield reveal
        yield Static("", classes="field-problem")
        hints = [escape(field.help)] if field.help else []
        if self._editable and (field.default is not None or field.derive is not None):
            hints.append("[i]ctrl+r: back to the default[/i]")
        if hints:
            # Shown while the field has the focus (CSS): the form stays short on small screens.
            yield Static(" ".join(hints), classes="field-help", markup=True)

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    def on_descendant_focus(self) -> None:
        self._show_note()

    def on_descendant_blur(self) -> None:
        self._show_note()

    def show_problem(self, problem: str | None) -> None:
        self._problem = problem
        self._show_note()

    def _show_note(self) -> None:
        problem = self._problem
        note = self.query_one(".field-problem", Static)
        if problem and not self.input.value and not self.input.has_focus:
            # An empty field says so briefly; its rule shows when the attendee gets there.
            note.update(f"{self.field.name}: required")
        elif problem:
            note.update(problem)
        elif not self._editable:
            note.update(EXPLICIT_HINT)
        note.set_class(bool(problem), "-error")
        note.display = bool(problem or not self._editable)
        self.input.set_class(bool(problem), "-invalid")

    @on(Button.Pressed, ".reveal")
    def toggle_reveal(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_toggle_reveal()

    def action_toggle_reveal(self) -> None:
        if not self.field.is_secret:
            return
        self.input.password = not self.input.password
        self.query_one(".reveal", Button).label = "show" if self.input.password else "hide"
        if not self.input.disabled:
            self.input.focus()


class ValueForm(Vertical):
    """The inputs of the selected step, in the order the step declares them."""

    BINDINGS = [Binding("ctrl+r", "reset", "Default", show=False)]

    class Validity(Message):
        """Posted when the form becomes valid or invalid."""

        def __init__(self, form: ValueForm, valid: bool) -> None:
            super().__init__()
            self.form = form
            self.valid = valid

    class Saved(Message):
        """Posted after a value was saved to the workspace."""

    class Completed(Message):
        """Enter on the last value while every value is valid: the step can run."""

    class Edited(Message):
        """A value was typed, reset or found invalid: statuses may have changed."""

    def __init__(self, lab: Lab, selection: Selection, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lab = lab
        self.selection = selection
        self.states: dict[str, FieldState] = {}
        self._valid: bool | None = None

    @property
    def env(self) -> str | None:
        return self.selection.values_env

    def scope_of(self, field: Field) -> str | None:
        """Where a value typed here is saved: this environment, or None (shared)."""
        return self.lab.resolver.scope_of(field, self.env)

    def compose(self) -> ComposeResult:
        resolved = self.lab.resolver.resolve(self.env)
        where = f" for {self.selection.env}" if self.selection.env else ""
        yield Static(f"[b]Values{where}[/b] [dim]· saved as you type[/dim]",
                     classes="section-title", markup=True)
        for field in self.selection.fields():
            origin = resolved.origins.get(field.name, "")
            value = resolved.values.get(field.name, "")
            self.states[field.name] = FieldState(field, origin, value)
            editable = not self.lab.read_only and origin in ("", "workspace", "derived")
            scope = f"{self.env} only" if self.scope_of(field) else "shared"
            yield FieldRow(field, value, origin, editable=editable, scope=scope)
        hidden = [f.name for f in self.selection.step.inputs if f not in self.selection.fields()]
        if hidden:
            yield Static(f"[dim]Per environment ({escape(', '.join(hidden))}): select "
                         f"{' / '.join(e or '' for e in self.selection.step.environments())} "
                         "in the tree.[/dim]", classes="field-note", markup=True)

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
        if not self.lab.read_only:
            self.lab.set_draft(row.field.name, self.scope_of(row.field),
                               event.value if problem else None)
            self.post_message(self.Edited())
        if problem is None and not self.lab.read_only:
            state.edited = True
            self._save(row.field, event.value)
            row.set_origin(state.origin if event.value else "not set")
            self._refresh_derived()
            self.post_message(self.Saved())
        self._post_validity()

    def _save(self, field: Field, value: str) -> None:
        self.lab.forget_values()
        # A secret is registered with the masker when it is committed (Enter, or leaving the
        # field), not here: as it is typed each prefix passes through ("zq7K" of "zq7Kx9…"),
        # and every one registered would be masked wherever it appears.
        self.lab.resolver.save(field, self.env, value)
        if value == "":
            return
        self.states[field.name].origin = "workspace"

    def action_reset(self) -> None:
        """ctrl+r: the focused value goes back to its default."""
        focused = self.screen.focused
        row = next((r for r in self.rows() if focused is not None and r.input is focused), None)
        if row is not None:
            self.reset(row)

    def reset(self, row: FieldRow) -> None:
        """Forget what was typed or saved for a value: the default (or derived value) shows
        again, or nothing when it has none. A value set outside the app stays."""
        field = row.field
        if self.lab.read_only or row.input.disabled:
            self.app.notify(f"{field.name} is {EXPLICIT_HINT}", severity="warning")
            return
        for where in self.lab.resolver.forget(field, self.env):
            self.lab.set_draft(field.name, where, None)
        self.lab.forget_values()
        resolved = self.lab.resolver.resolve(self.env)
        state = self.states[field.name]
        state.edited = False
        self._show_value(row, resolved.values.get(field.name, ""),
                         resolved.origins.get(field.name, ""))
        row.show_problem(field_problem(field, row.input.value)
                         if row.input.value or field.required else None)
        self._refresh_derived()
        self.post_message(self.Edited())
        self.post_message(self.Saved())
        self._post_validity()

    def _refresh_derived(self) -> None:
        """Derived values follow the values they derive from until the attendee edits them."""
        resolved = self.lab.resolver.resolve(self.env)
        for row in self.rows():
            state = self.states[row.field.name]
            if state.edited or state.origin not in ("derived", ""):
                continue
            self._show_value(row, resolved.values.get(row.field.name, ""),
                             resolved.origins.get(row.field.name, ""))

    def _show_value(self, row: FieldRow, value: str, origin: str) -> None:
        state = self.states[row.field.name]
        state.origin = origin
        row.set_origin(origin)
        if value != row.input.value:
            state.value = value
            with row.input.prevent(Input.Changed):
                row.input.value = value
            row.show_problem(field_problem(row.field, value)
                             if value or row.field.required else None)

    def reload(self) -> None:
        """Show what the workspace holds now (a value typed in another step's form is shared
        here too). A field being typed in, or holding a value not yet valid, is left alone."""
        resolved = self.lab.resolver.resolve(self.env)
        for row in self.rows():
            current = row.input.value
            if row.input.has_focus or (current and field_problem(row.field, current)):
                continue
            self._show_value(row, resolved.values.get(row.field.name, ""),
                             resolved.origins.get(row.field.name, ""))
        self._post_validity()

    def _commit(self, input_: Input) -> None:
        """A value the attendee is done with: a valid secret is masked from now on."""
        row = next((r for r in self.rows() if r.input is input_), None)
        if (row is not None and row.field.is_secret and input_.value
                and field_problem(row.field, input_.value) is None):
            self.lab.resolver.mask_value(row.field, input_.value)

    @on(Input.Blurred, ".field-input")
    def value_committed(self, event: Input.Blurred) -> None:
        self._commit(event.input)

    @on(Input.Submitted, ".field-input")
    def next_field(self, event: Input.Submitted) -> None:
        """Enter moves on: to the next value that needs attention, else to Run."""
        event.stop()
        self._commit(event.input)
        rows = self.rows()
        index = next((i for i, r in enumerate(rows) if r.input is event.input), -1)
        for row in rows[index + 1:] + rows[:index + 1]:
            if field_problem(row.field, row.input.value) and not row.input.disabled:
                row.input.focus()
                return
        self.post_message(self.Completed())

    def _post_validity(self) -> None:
        valid = self.valid
        if valid != self._valid:
            self._valid = valid
            self.post_message(self.Validity(self, valid))

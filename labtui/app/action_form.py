"""A small form for a step's action (approve, reject): the person's name and a comment.

The inputs are checked as the headless flags are (`Action.problems`); the form answers the
inputs when they hold, or None when the attendee goes back."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from labtui.actions import Action


class ActionForm(ModalScreen[dict[str, str] | None]):
    """Asks for an action's inputs; dismissed with them, or with None (Esc, Back)."""

    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, action: Action, about: str) -> None:
        super().__init__()
        self.action_spec = action
        self.about = about

    def compose(self) -> ComposeResult:
        action = self.action_spec
        with Vertical(id="dialog", classes="action-form"):
            yield Static(Text(f"{action.label}: {self.about}", style="bold"),
                         id="dialog-title")
            if action.help:
                yield Static(Text(action.help, style="dim"), classes="dialog-line")
            for field in action.inputs:
                optional = "" if field.required else " (optional)"
                yield Label(f"{field.label}{optional}", classes="action-label")
                yield Input(placeholder=field.help, id=f"input-{field.name}",
                            classes="action-input")
            yield Static("", id="action-problems")
            with Horizontal(id="dialog-buttons"):
                yield Button(action.label, id="submit", compact=True,
                             variant="error" if action.name == "reject" else "primary")
                yield Button("Back", id="back", compact=True)

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def inputs(self) -> dict[str, str]:
        return {field.name: self.query_one(f"#input-{field.name}", Input).value.strip()
                for field in self.action_spec.inputs}

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        fields = list(self.query(Input).results(Input))
        index = fields.index(event.input)
        if index + 1 < len(fields):
            fields[index + 1].focus()
        else:
            self.submit()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "submit":
            self.submit()
        else:
            self.dismiss(None)

    def submit(self) -> None:
        given = self.inputs()
        problems = self.action_spec.problems(given, flags=False)
        shown = self.query_one("#action-problems", Static)
        if problems:
            shown.update(Text("\n".join(problems), style="red"))
            return
        self.dismiss(given)

    def action_back(self) -> None:
        self.dismiss(None)

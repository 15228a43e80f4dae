"""A question with a yes and a no: before a rollback (listing what will be deleted), before a
run (the plan), before cancelling a running step.

The body scrolls with the arrow and Page keys while the buttons keep the focus, so a long plan
reads at 80x24. y and n answer too, unless the dialog came up while the attendee was typing
(`letters` off): then only the buttons (Tab, Enter) and Esc do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """Answers True (the action) or False (keep things as they are)."""

    BINDINGS = [
        Binding("y", "letter(True)", "Yes", show=False),
        Binding("n", "letter(False)", "No", show=False),
        Binding("escape", "answer(False)", "No"),
        Binding("up", "scroll('up')", "Scroll", show=False),
        Binding("down", "scroll('down')", "Scroll", show=False),
        Binding("pageup", "scroll('page_up')", "Scroll", show=False),
        Binding("pagedown", "scroll('page_down')", "Scroll", show=False),
        Binding("home", "scroll('home')", "Scroll", show=False),
        Binding("end", "scroll('end')", "Scroll", show=False),
        Binding("left", "app.focus_previous", "Previous", show=False),
        Binding("right", "app.focus_next", "Next", show=False),
    ]

    def __init__(self, title: str, lines: Sequence[Text | str], *, yes: str, no: str = "Back",
                 danger: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.lines = list(lines)
        self.yes_label = yes
        self.no_label = no
        self.danger = danger
        self.letters = True
        """Whether y and n answer (off when the dialog opened over an input being typed in)."""
        self.about: Any = None
        """The running job the question is about, if any (the app closes the dialog when
        that job ends first)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="-danger" if self.danger else ""):
            yield Static(Text(self.title_text, style="bold"), id="dialog-title")
            yield Static("", id="dialog-note")
            with VerticalScroll(id="dialog-body"):
                for line in self.lines:
                    yield Static(line, classes="dialog-line")
            with Horizontal(id="dialog-buttons"):
                yield Button(self._label(self.yes_label, "y"), id="yes", compact=True,
                             variant="error" if self.danger else "primary")
                yield Button(self._label(self.no_label, "n"), id="no", compact=True)

    def _label(self, label: str, letter: str) -> str:
        return f"{label} ({letter})" if self.letters else label

    def on_mount(self) -> None:
        note = self.query_one("#dialog-note", Static)
        note.display = not self.letters
        if not self.letters:
            note.update(Text("You were typing, so y and n do not answer here: Tab to a button "
                             "and press Enter, or Esc", style="italic"))
        # The safe answer has the focus: Enter on a dangerous dialog does nothing harmful.
        self.query_one("#no" if self.danger else "#yes", Button).focus()

    def outdated(self, why: str) -> None:
        """What the question was about is over: say so, and leave only a way out."""
        self.about = None
        self.title_text = why
        if self.is_mounted:
            self.query_one("#dialog-title", Static).update(Text(why, style="bold"))
            self.query_one("#yes", Button).display = False
            no = self.query_one("#no", Button)
            no.label = "Close"
            no.focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def action_letter(self, answer: bool) -> None:
        if self.letters:
            self.dismiss(answer)

    def action_scroll(self, how: str) -> None:
        body = self.query_one("#dialog-body", VerticalScroll)
        getattr(body, f"scroll_{how}")(animate=False)

"""The help screen: how the lab works in this app, and every key."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = (
    "The lab is a list of steps (left). Pick one with the arrow keys or the mouse; the right "
    "side shows what it does, its values, its checks and its results. The log folds to one "
    "line while nothing runs and opens by itself when a step starts (l opens or folds it).\n\n"
    "A step goes: fill its values → Plan (see what it will create) → Run → it verifies "
    "itself. If a check fails, it says what is wrong and what to do: fix the value and run "
    "again. Rollback removes what the step created (it asks first and lists it). Values like "
    "the prefix or the tenant id are shared: typed once, every step and environment has them."
)

KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓ ← →", "move in the step tree; Enter goes to the step's values"),
    ("Tab, Enter", "next value; Enter on the last valid one goes to Run"),
    ("r", "run the selected step (shows the plan first); on a section, all its steps"),
    ("R", "run it again even if it is already done"),
    ("v", "verify: check, read-only, that the step's result is there"),
    ("p", "plan: what a run would create or change"),
    ("u", "rollback: remove what the step created (asks first)"),
    ("c", "cancel the running step (asks first)"),
    ("l", "open or fold the log"),
    ("g", "the lab's text for the step, with the commands to type by hand"),
    ("/", "filter the log; Esc goes back to the tree"),
    ("L", "put the keys in the log (arrows, Page Up/Down scroll it); m then maximises it"),
    ("ctrl+s", "save the log to the workspace's logs folder"),
    ("m", "make the focused panel fill the screen (Esc to return)"),
    ("s", "solve a manual step: fill in the lab's reference answer, then verify"),
    ("e", "edit a manual step's file in $EDITOR; it is verified when you close the editor"),
    ("ctrl+r", "in a value: back to its default"),
    ("ctrl+t", "in a secret value: show or hide it"),
    ("ctrl+p", "command palette: every action (run a section, run everything, open the "
               "artifacts …), jump to a step, change the theme"),
    ("?", "this help (Esc closes it)"),
    ("q, ctrl+c", "quit (asks first if a step is running, and cancels it cleanly)"),
)

STATUSES = (
    "Statuses: ○ not done · ◐ running · ✓ done · ◔ partial (some environments done) · "
    "✗ failed · ! drift (was done, no longer verifies) · ⊘ interrupted (stopped or killed "
    "mid-run: Rollback removes what it made) · ✎ needs input (a value is missing or invalid) "
    "· ☞ manual (you do it; Verify checks it)."
)

CLOSE = "Esc closes this help (so do ? and q)."

TYPING = ("While the cursor is in a value or the log filter, letters are text: no key above "
          "fires. Esc or Tab leaves the input.")


def help_text() -> Text:
    """The help as one Rich Text: it renders in a few milliseconds, even while a step streams."""
    text = Text()
    text.append("labtui — keys and what they do", style="bold")
    text.append(f"   {CLOSE}\n\n", style="italic")
    text.append(INTRO + "\n\n")
    width = max(len(key) for key, _ in KEYS) + 2
    for key, what in KEYS:
        text.append(f"  {key:<{width}}", style="bold")
        text.append(what + "\n")
    text.append("\n" + TYPING + "\n\n")
    text.append(STATUSES, style="dim")
    text.append(f"\n\n{CLOSE}", style="bold")
    return text


class HelpScreen(ModalScreen[None]):
    """Shown with ? or F1; any of Esc, q or ? closes it. The app installs one and reuses it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "Help"
            body.border_subtitle = "Esc closes"
            yield Static(help_text(), id="help-text")

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(result)

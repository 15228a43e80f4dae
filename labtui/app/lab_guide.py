"""The lab's text beside the run: what the selected step teaches, and its commands by hand.

A panel on the right of the main screen, opened and closed with `g` (`LabApp.action_show_guide`).
It follows the step tree: each selected step shows its guide (`Step.guide()`), filled in with
the attendee's values as they are resolved now; secret inputs always stay placeholders.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static

from labtui.app.model import Lab, Selection
from labtui.guides import Guide, guide_for

NO_GUIDE = ("This step ships no guide. A step's plugin can add one as "
            "`guides/<step-id>.md` next to its module.")


class LabGuide(VerticalScroll):
    """The guide of one step: a heading naming the step and environment, then its Markdown."""

    DEFAULT_CSS = """
    LabGuide {
        width: 45%;
        min-width: 34;
        padding: 0 1;
        border-left: vkey $primary 40%;
        background: $surface;
    }
    .-narrow LabGuide { width: 1fr; border-left: none; }
    LabGuide #guide-heading { color: $text-muted; }
    LabGuide Markdown { margin: 0; padding: 0; }
    """

    SCOPED_CSS = False  # the narrow rule depends on the screen's class
    ALLOW_MAXIMIZE = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.guide: Guide | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="guide-heading")
        yield Markdown("", id="guide-text")

    async def show(self, lab: Lab, selection: Selection) -> None:
        """Show `selection`'s guide with the values known now (the app calls it on every
        newly selected step while the panel is open)."""
        env = selection.values_env
        values = lab.resolver.resolve(env).values
        guide = guide_for(selection.step, values, env, lab.catalog.fields())
        self.guide = guide
        heading = Text("lab text · ", style="bold")
        heading.append(f"{selection.step.id}{f' ({env})' if env else ''}")
        if guide.missing:
            heading.append(f" · <…> not known yet: {', '.join(guide.missing)}", style="dim")
        heading.append(" · g hides", style="dim")
        self.query_one("#guide-heading", Static).update(heading)
        text = NO_GUIDE if guide.empty else lab.masker.redact(guide.text)
        await self.query_one("#guide-text", Markdown).update(text)
        self.scroll_home(animate=False)

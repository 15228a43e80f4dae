"""What the right side shows while a section of the step tree is selected: its steps, how
many are done, and that Run takes on all of them."""

from __future__ import annotations

from collections.abc import Collection

from rich.text import Text
from textual.widgets import Static

from labtui.app.model import Lab, Section, UnitKey
from labtui.app.step_tree import status_text


class SectionDetail(Static):
    """A section: its units with their statuses, and what the keys do here."""

    def __init__(self, lab: Lab, section: Section) -> None:
        super().__init__(classes="section-detail")
        self.lab = lab
        self.section = section

    def refresh_state(self, running: Collection[UnitKey]) -> None:
        units = self.section.units
        words = [self.lab.status_word(unit, running) for unit in units]
        done = sum(1 for word in words if word == "done")
        text = Text(self.section.name, style="bold")
        text.append(f"\n{done} of {len(units)} done\n", style="dim")
        if not self.lab.read_only:
            text.append("→ r runs every step of the section that is not done, in order (it "
                        "asks first); v verifies them all\n", style="italic")
        text.append("\n")
        for unit, word in zip(units, words, strict=True):
            text.append(f"  {unit.label:<28} ")
            text.append_text(status_text(word))
            text.append("\n")
        text.rstrip()
        self.update(text)

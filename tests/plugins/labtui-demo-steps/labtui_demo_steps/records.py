"""What the demo steps journal. Listed under the `labtui.records` entry points apart from the
steps, so an entry can be undone even by a labtui where the step is no longer installed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labtui.journal import Record
from labtui.step import StepContext


@dataclass(frozen=True)
class DemoFile(Record):
    """A file a demo step wrote; the undo deletes it."""

    kind = "file"
    ref_field = "path"
    path: str

    def undo(self, ctx: StepContext) -> None:
        Path(self.path).unlink(missing_ok=True)

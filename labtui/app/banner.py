"""The banner: which target, workspace and identity the attendee is working against, and —
when another process holds the workspace — who, in a read-only warning."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import Static

from labtui.app.model import Lab, holder_text


class Banner(Static):
    """One or two lines at the top of the screen; never scrolls away."""

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lab = lab
        self._identity: dict[str, str] = {}

    def on_mount(self) -> None:
        self.set_class(self.lab.read_only, "-read-only")
        self._refresh_text()

    def show_identity(self, identity: Mapping[str, str]) -> None:
        self._identity = dict(identity)
        self._refresh_text()

    def on_resize(self) -> None:
        self._refresh_text()

    def _refresh_text(self) -> None:
        text = self._text(short=False)
        if self.size.width and text.cell_len > self.size.width - 2:
            text = self._text(short=True)  # one line on a small screen
        if self.lab.holder is not None:
            text.append("\n")
            text.append(" READ-ONLY ", style="bold reverse")
            text.append(f" in use by {holder_text(self.lab.holder)} — "
                        "you can look, not run or roll back")
        self.update(text)

    def _text(self, *, short: bool) -> Text:
        text = Text()
        text.append(" labtui ", style="bold reverse")
        text.append("  target ", style="dim")
        text.append(self.lab.options.target, style="bold")
        text.append("  workspace ", style="dim")
        text.append(str(self.lab.options.workspace), style="bold")
        for key, value in self._identity.items():
            value = self.lab.masker.redact(value)
            if short:
                if key == "sandbox":
                    continue  # inside the workspace: the workspace says where
                value = value if len(value) <= 12 else value[:8] + "…"
            text.append(f"  {key} ", style="dim")
            text.append(value)
        return text

"""The banner: which target, workspace and identity the attendee is working against, and —
when another process holds the workspace — who, in a read-only warning.

What the target says about itself is there to stop work in the wrong place (Azure: the tenant,
the subscription's name and id, who is signed in), so the banner gives up as little of it as
the width allows: one line with every value whole; else two lines; else ids cut to their first
eight characters (one line, else two); else three lines (two under a read-only warning), values
whole, then ids cut; only then every long value cut.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import Static

from labtui.app.model import Lab, holder_text

GUID = re.compile(r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")
SEPARATOR = "  "


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
        text = self._fitted(self.size.width)
        if self.lab.holder is not None:
            text.append("\n")
            text.append(" READ-ONLY ", style="bold reverse")
            text.append(f" in use by {holder_text(self.lab.holder)} — "
                        "you can look, not run or roll back")
        self.update(text)

    def _fitted(self, width: int) -> Text:
        """The banner's lines for `width` cells, losing as little as that allows."""
        most = 2 if self.lab.holder is not None else 3  # the read-only warning takes one
        tries = [("none", 1), ("none", 2), ("ids", 1), ("ids", 2), ("none", 3), ("ids", 3),
                 ("long", 1), ("long", 2)]
        packed: list[list[Text]] | None = None
        for cut, lines in tries:
            chunks = self._chunks(cut)
            if not width:
                packed = [chunks]
            elif lines <= most:
                packed = pack(chunks, width, lines)
            if packed is not None:
                break
        if packed is None:
            packed = [self._chunks("long")]  # the CSS ellipsis ends what does not fit
        text = Text()
        for number, line in enumerate(packed):
            if number:
                text.append("\n")
            for index, chunk in enumerate(line):
                # Each piece but the app's name starts with the gap before it; not a line.
                text.append_text(chunk if index else chunk[len(SEPARATOR):])
        return text

    def _chunks(self, cut: str) -> list[Text]:
        """The banner's pieces (a label and its value each, after the gap before it), the
        first one the app's name; `cut`: "none", "ids" (GUIDs cut to their first eight
        characters) or "long" (every value over twelve)."""
        chunks = [Text(SEPARATOR + " labtui ", style="bold reverse")]
        chunks.append(Text.assemble((f"{SEPARATOR}target ", "dim"),
                                    (self.lab.options.target, "bold")))
        chunks.append(Text.assemble((f"{SEPARATOR}workspace ", "dim"),
                                    (str(self.lab.options.workspace), "bold")))
        for key, value in self._identity.items():
            value = self.lab.masker.redact(value)
            if cut != "none" and key == "sandbox":
                continue  # inside the workspace: the workspace says where
            if cut == "ids":
                value = GUID.sub(lambda found: found[0][:8] + "…", value)
            elif cut == "long" and len(value) > 12:
                value = value[:8] + "…"
            chunks.append(Text.assemble((f"{SEPARATOR}{key} ", "dim"), value))
        return chunks


def pack(chunks: Sequence[Text], width: int, lines: int) -> list[list[Text]] | None:
    """`chunks` (each after its gap) on at most `lines` lines of `width` cells, or None when
    they do not fit.

    The first three (the app's name, the target and the workspace) open the first line, in
    order; the others go, widest first, on the first line with room, and each line keeps them
    in their given order (so a short "signed in as" may move up beside the workspace).
    """
    gap = len(SEPARATOR)
    head = min(3, len(chunks))
    rows: list[list[int]] = [list(range(head))] + [[] for _ in range(lines - 1)]
    used = [sum(chunks[i].cell_len for i in rows[0]) - gap] + [0] * (lines - 1)
    if used[0] > width:
        return None
    for index in sorted(range(head, len(chunks)), key=lambda i: -chunks[i].cell_len):
        for row in range(lines):
            needed = chunks[index].cell_len - (0 if rows[row] else gap)
            if used[row] + needed <= width:
                rows[row].append(index)
                used[row] += needed
                break
        else:
            return None
    return [[chunks[i] for i in sorted(row)] for row in rows if row]

"""The live log: what the running step says, as it says it, already masked.

Lines arrive in batches (the app drains the engine's events on a timer) and go to the `Log`
widget in one `write_lines` call. Memory is bounded twice: the widget keeps the last
`VISIBLE` lines, the pane keeps the last `KEPT` for the filter and for saving.

While no step runs the pane is folded to one line (the last thing said, the line count), so
the step's values and checks have the screen; it opens when a step starts, and with `l`.
A folded pane writes nothing to its `Log`: opening it writes the tail once.

`Log` does not wrap, so lines longer than the pane are wrapped here before they are written
(continuations indented); the kept lines stay whole, and a resize writes the tail again.
"""

from __future__ import annotations

import textwrap
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input, Log, Static

from labtui.masking import Masker


class LogPane(Vertical):
    """A filter box, the line count, and the log itself."""

    ALLOW_MAXIMIZE = True  # m fills the screen with it (L puts the keys in it first)

    VISIBLE = 20_000
    KEPT = 200_000

    def __init__(self, masker: Masker, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.masker = masker
        self.kept: deque[str] = deque(maxlen=self.KEPT)
        self.total = 0
        self.pattern = ""
        self.is_open = False
        self._filter_timer: Timer | None = None
        self._status = ""
        self._title = ""
        self._headline = ""
        """The line the folded title shows: the last one about the lab's work."""
        self._unwritten = 0
        """Lines kept while folded, not yet in the `Log`."""
        self._wrap_width = 0
        """The width the lines in the `Log` were wrapped to."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="log-bar"):
            yield Static("", id="log-title")
            yield Input(placeholder="filter (/)", id="log-filter", compact=True)
            yield Static("", id="log-count")
        yield Log(max_lines=self.VISIBLE, id="log")

    def on_mount(self) -> None:
        self.show(False)
        self._update_count()

    @property
    def log_widget(self) -> Log:
        return self.query_one("#log", Log)

    def show(self, is_open: bool) -> None:
        """Open the pane (it takes most of the right side) or fold it to its title line."""
        self.is_open = is_open
        self.set_class(is_open, "-open")
        self.log_widget.display = is_open
        self.query_one("#log-filter").display = is_open
        if is_open and self._unwritten:
            tail = list(self.kept)[-min(self._unwritten, self.VISIBLE):]
            if self.pattern:
                tail = [line for line in tail if self.pattern in line.lower()]
            self._unwritten = 0
            self.log_widget.write_lines(self.wrap(tail))
        self._show_title()

    def add_lines(self, lines: list[str], *, aside: bool = False) -> None:
        """Append already-masked lines (from the UI thread). An `aside` (the app's own news,
        such as the sandbox's API being served) is logged but leaves the folded title on how
        the last step went."""
        if not lines:
            return
        if not aside:
            self._headline = lines[-1].strip()
        self.kept.extend(lines)
        self.total += len(lines)
        if not self.is_open:
            self._unwritten += len(lines)
            self._show_title()
        else:
            if self.pattern:
                lines = [line for line in lines if self.pattern in line.lower()]
            if lines:
                self.log_widget.write_lines(self.wrap(lines[-self.VISIBLE:]))
        self._update_count()

    def _line_width(self) -> int:
        log = self.log_widget
        # Leave room for the scrollbar even before it shows: it comes with the lines.
        return log.size.width - log.styles.gutter.width - log.styles.scrollbar_size_vertical

    def wrap(self, lines: list[str]) -> list[str]:
        """`lines` cut to the log's width at spaces, each continuation indented by two."""
        width = self._wrap_width = self._line_width()
        if width < 20:
            return lines  # not laid out yet, or too narrow to wrap usefully
        if all(len(line) <= width for line in lines):
            return lines
        wrapped: list[str] = []
        for line in lines:
            if len(line) <= width:
                wrapped.append(line)
            else:
                wrapped.extend(textwrap.wrap(line, width, subsequent_indent="  ",
                                             drop_whitespace=False, replace_whitespace=False)
                               or [line])
        return wrapped

    def on_resize(self, event: events.Resize) -> None:
        if self.is_open and self.kept and self._line_width() != self._wrap_width:
            self.apply_filter(self.pattern)  # the tail again, wrapped to the new width

    def set_status(self, status: str) -> None:
        """A short note after the title: what runs and its progress."""
        self._status = status
        self._show_title()

    def _show_title(self) -> None:
        if self._status:
            title = f"{'Log' if self.is_open else '▸ Log (l)'} {self._status}"
        elif self.is_open:
            title = "Log · l folds"
        elif self._headline:
            title = f"▸ Log (l)  {self._headline}"
        else:
            title = "▸ Log (l)"
        if title != self._title:
            self._title = title
            self.query_one("#log-title", Static).update(Text(title), layout=False)

    def _update_count(self) -> None:
        if self.pattern:
            shown = self.log_widget.line_count
            text = f"{shown:,} match"
        else:
            text = f"{self.total:,} lines"
        self.query_one("#log-count", Static).update(text, layout=False)

    @on(Input.Changed, "#log-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(0.15, lambda: self.apply_filter(event.value))

    def apply_filter(self, pattern: str) -> None:
        """Show only the kept lines that contain `pattern` (case-insensitive)."""
        self.pattern = pattern.strip().lower()
        log = self.log_widget
        log.clear()
        if self.pattern:
            matching = [line for line in self.kept if self.pattern in line.lower()]
        else:
            matching = list(self.kept)
        log.write_lines(self.wrap(matching[-self.VISIBLE:]))
        self._unwritten = 0
        self._update_count()

    def clear(self) -> None:
        self.kept.clear()
        self._headline = ""
        self.total = 0
        self._unwritten = 0
        self.log_widget.clear()
        self._update_count()

    def save(self, folder: Path) -> Path:
        """Write every kept line (masked again, for lines that came before a secret was known)
        to a new file in `folder`; return its path."""
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / time.strftime("app-log-%Y%m%d-%H%M%S.log")
        lines: Iterable[str] = self.kept
        with open(path, "w", encoding="utf-8") as handle:
            dropped = self.total - len(self.kept)
            if dropped > 0:
                handle.write(f"[{dropped:,} earlier lines not kept by the app; "
                             "`labtui logs STEP` shows a step's full last run]\n")
            for line in lines:
                handle.write(self.masker.redact(line) + "\n")
        path.chmod(0o600)
        return path

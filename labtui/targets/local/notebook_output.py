"""What a notebook shows: `display` of a DataFrame or rows as a small table, and each cell's
stdout and stderr sent line by line to a `log` callback while it runs."""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

_DISPLAY_ROWS = 20

Log = Callable[[str], None]


def _display_lines(value: Any) -> list[str]:
    if hasattr(value, "limit") and hasattr(value, "columns") and hasattr(value, "collect"):
        columns = [str(name) for name in value.columns]
        rows = [tuple(row) for row in value.limit(_DISPLAY_ROWS + 1).collect()]
        return _table(columns, rows)
    if hasattr(value, "to_string") and hasattr(value, "head"):
        return str(value.head(_DISPLAY_ROWS).to_string()).splitlines()
    if isinstance(value, list | tuple) and value and all(hasattr(v, "_fields") for v in value):
        return _table(list(value[0]._fields), [tuple(v) for v in value])
    if isinstance(value, list | tuple) and not value:
        return ["(no rows)"]
    return repr(value).splitlines()


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    shown = [["" if cell is None else str(cell) for cell in row] for row in rows[:_DISPLAY_ROWS]]
    widths = [len(name) for name in columns]
    for row in shown:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=False)]
    lines = [
        " | ".join(name.ljust(width) for name, width in zip(columns, widths, strict=True)),
        "-+-".join("-" * width for width in widths),
    ]
    lines.extend(
        " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        for row in shown
    )
    if len(rows) > _DISPLAY_ROWS:
        lines.append(f"(showing the first {_DISPLAY_ROWS} rows)")
    return [line.rstrip() for line in lines]


def display(value: Any = None, *args: Any, **kwargs: Any) -> None:
    for line in _display_lines(value):
        print(line)


class LineSink(io.TextIOBase):
    """A text stream that hands each complete line to `log` as soon as it is written."""

    def __init__(self, log: Log) -> None:
        self._log = log
        self._buffer = ""
        self.emitting = False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text.replace("\r\n", "\n").replace("\r", "\n")
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            line, self._buffer = self._buffer, ""
            self._emit(line)

    def _emit(self, line: str) -> None:
        # While `log` runs, this thread's prints go to the real streams: a log that writes to
        # the terminal (the headless console) must not feed its own output back in.
        self.emitting = True
        try:
            self._log(line)
        finally:
            self.emitting = False


class _ThreadRoutedStream(io.TextIOBase):
    """Stands in for sys.stdout / sys.stderr: what the notebook's thread writes goes to its
    sink, what any other thread writes goes where it went before."""

    def __init__(self, original: TextIO) -> None:
        self.original = original
        self.routes: dict[int, LineSink] = {}

    def writable(self) -> bool:
        return True

    def _target(self) -> TextIO | LineSink:
        sink = self.routes.get(threading.get_ident())
        return self.original if sink is None or sink.emitting else sink

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


@contextmanager
def capture(sink: LineSink) -> Iterator[None]:
    """Route this thread's writes to sys.stdout and sys.stderr into `sink`."""
    ident = threading.get_ident()
    routers: list[tuple[str, _ThreadRoutedStream]] = []
    for name in ("stdout", "stderr"):
        current = getattr(sys, name)
        router = (
            current if isinstance(current, _ThreadRoutedStream) else _ThreadRoutedStream(current)
        )
        router.routes[ident] = sink
        setattr(sys, name, router)
        routers.append((name, router))
    try:
        yield
    finally:
        sink.flush()
        for name, router in routers:
            router.routes.pop(ident, None)
            if not router.routes and getattr(sys, name) is router:
                setattr(sys, name, router.original)

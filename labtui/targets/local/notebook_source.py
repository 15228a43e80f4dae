"""A notebook's source as Databricks stores it ("source" format: `# Databricks notebook
source` first, cells between `# COMMAND ----------`, magic cells as `# MAGIC` lines) parsed
into cells, and the error a notebook that cannot be parsed, or whose cell fails, raises."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from labtui.targets.errors import TargetError

HEADER = "# Databricks notebook source"
_SEPARATOR = re.compile(r"^# COMMAND -{5,}\s*$")
_TITLE = re.compile(r"^# DBTITLE \d+,(.*)$")
_MAGIC = re.compile(r"^# MAGIC ?(.*)$")
UNSUPPORTED_MAGICS = {
    "%sh": "shell cells",
    "%sql": "SQL cells",
    "%scala": "Scala cells",
    "%r": "R cells",
    "%run": "%run of another notebook",
    "%fs": "%fs cells (call dbutils.fs in a Python cell instead)",
}


class NotebookError(TargetError):
    """A notebook could not be parsed or one of its cells failed.

    The message is one line: which cell, its first line, and the exception. `traceback_text`
    holds the traceback from the cell's code down (empty for a parse error).
    """

    def __init__(
        self,
        message: str,
        *,
        cell: int | None = None,
        first_line: str = "",
        traceback_text: str = "",
    ) -> None:
        super().__init__(message)
        self.cell = cell
        self.first_line = first_line
        self.traceback_text = traceback_text


CellKind = Literal["python", "markdown", "pip", "empty", "unsupported"]


@dataclass(frozen=True)
class Cell:
    """One cell of a notebook. `number` counts every cell from 1, as Databricks' "Cmd N"."""

    number: int
    kind: CellKind
    source: str
    start_line: int
    title: str = ""
    magic: str = ""

    @property
    def first_line(self) -> str:
        """The cell's title, or its first line that says something, cut to 60 characters."""
        text = self.title
        if not text:
            lines = (line.strip() for line in self.source.splitlines())
            text = next((line for line in lines if line), "")
        return text if len(text) <= 60 else text[:57] + "..."

    @property
    def label(self) -> str:
        return (
            f"cell {self.number} ({self.first_line})" if self.first_line else f"cell {self.number}"
        )


def parse_notebook(source: str, name: str = "notebook") -> list[Cell]:
    """Split Databricks source-format text into cells.

    Python cells keep their line numbers in the file (earlier lines are blank), so tracebacks
    point at the notebook's own lines. `%md` cells become "markdown", `%pip` cells "pip", and
    shell, SQL, Scala, R and `%run` cells "unsupported".

    Raises:
        NotebookError: the text is not a Databricks source notebook.
    """
    lines = source.splitlines()
    if not lines or lines[0].strip() != HEADER:
        raise NotebookError(
            f"{name} is not a Databricks source notebook: its first line must be {HEADER!r}"
        )
    chunks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 2
    for number, line in enumerate(lines[1:], start=2):
        if _SEPARATOR.match(line):
            chunks.append((start, current))
            current, start = [], number + 1
        else:
            current.append(line)
    chunks.append((start, current))
    return [_cell(index, start, chunk) for index, (start, chunk) in enumerate(chunks, start=1)]


def _cell(number: int, start: int, chunk: list[str]) -> Cell:
    title = ""
    body: list[str] = []
    for line in chunk:
        match = _TITLE.match(line)
        if match and not title and not any(text.strip() for text in body):
            title = match.group(1).strip()
            body.append("")
        else:
            body.append(line)
    meaningful = [line for line in body if line.strip()]
    if not meaningful:
        return Cell(number, "empty", "", start, title)
    if all(_MAGIC.match(line) for line in meaningful):
        stripped = [(m.group(1) if (m := _MAGIC.match(line)) else line) for line in body]
        first_index = next(i for i, line in enumerate(stripped) if line.strip())
        first = stripped[first_index].strip()
        magic = first.split(maxsplit=1)[0] if first.startswith("%") else ""
        if magic in ("%md", "%md-sandbox"):
            return Cell(number, "markdown", "\n".join(stripped), start, title, magic)
        if magic == "%pip":
            return Cell(number, "pip", "\n".join(stripped), start, title, magic)
        if magic == "%python":
            python = [*stripped[:first_index], "", *stripped[first_index + 1 :]]
            return Cell(number, "python", "\n".join(python), start, title, magic)
        if magic:
            return Cell(number, "unsupported", "\n".join(stripped), start, title, magic)
    return Cell(number, "python", "\n".join(body), start, title)

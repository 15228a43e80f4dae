"""The one error a pipeline file can cause: where it is and what is wrong, on one line."""

from __future__ import annotations


class PipelineError(Exception):
    """A pipeline file Azure Pipelines would reject, or that uses something outside the subset
    this runner supports. `str()` is one line: `azure-pipelines.yml:12:5: unknown key …`.

    `line` and `column` count from 1; 0 means the file as a whole."""

    def __init__(self, file: str, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column
        self.message = " ".join(message.split())

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.column}"
        return f"{where}: {self.message}"


class ExpressionError(ValueError):
    """An expression that does not parse or evaluate; the loader or runner adds the place."""

"""What a step created, as the lab text keeps asking attendees to copy it: the values it handed
on (the service principal's app id, the vault URI, the Databricks host, the image tag …) and
the resources its journal holds. Enter (or a click) on a row copies its value.

A secret output is listed by name only: its value is never put on screen, in the clipboard or
in a notification (the vault holds it; the secrets step put it there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from labtui.app.model import Created

SECRET_SHOWN = "••••"
"""What a secret output's value looks like here, whatever its length."""

OUTPUT_LABELS: dict[str, str] = {
    "sp-app-id": "app id (client id)",
    "sp-object-id": "object id",
    "sp-password": "password",
    "sp-token-endpoint": "token endpoint",
    "vault-uri": "vault URI",
    "vault-id": "vault resource id",
    "workspace-url": "Databricks host",
    "workspace-id": "Databricks workspace id",
    "cluster-id": "cluster id",
    "datalake-fqdn": "data lake URI",
    "rows": "rows uploaded",
    "source": "data taken from",
    "clone-url": "clone URL",
    "model-version": "model version",
    "image": "image tag",
    "image-id": "image id",
    "tests-image": "test image tag",
    "tested-image-id": "tested image id",
}
"""The lab text's words for the outputs the lab's steps hand on; others show their own name."""


def output_label(name: str) -> str:
    return OUTPUT_LABELS.get(name, name.replace("-", " "))


@dataclass(frozen=True)
class Row:
    """One line of the table: what it is, what it shows, and what Enter copies (None: a
    secret, which is not copied)."""

    label: str
    shown: Text
    copied: str | None


def rows_of(created: Created, files: Mapping[str, Path]) -> list[Row]:
    """The outputs first (what the lab asks to copy), then resources, then other files."""
    rows = []
    for output in created.outputs:
        if output.secret:
            rows.append(Row(output_label(output.name),
                            Text(f"{SECRET_SHOWN}  secret: not shown", style="dim"), None))
        else:
            rows.append(Row(output_label(output.name), Text(output.value), output.value))
    for kind, ref in created.resources:
        rows.append(Row(kind.replace("-", " "), Text(ref, style="cyan"), ref))
    for name, path in files.items():
        rows.append(Row(f"file {name}", Text(str(path), style="dim"), str(path)))
    return rows


class CreatedView(Vertical):
    """A unit's outputs, resources and other published files, each row copyable."""

    def __init__(self, created: Created, files: Mapping[str, Path], heading: str) -> None:
        super().__init__(classes="created")
        self.rows = rows_of(created, files)
        self.heading = heading

    def compose(self) -> ComposeResult:
        title = Text("What it created", style="bold")
        if self.heading:
            title.append(f" {self.heading}", style="dim")
        title.append("  ⏎ copies the selected row", style="dim italic")
        yield Static(title, classes="results-title")
        table: DataTable[Text | str] = DataTable(cursor_type="row", classes="created-table")
        table.add_columns("what", "value")
        for index, row in enumerate(self.rows):
            table.add_row(Text(row.label, style="bold"), row.shown, key=str(index))
        yield table

    @on(DataTable.RowSelected)
    def copy_row(self, event: DataTable.RowSelected) -> None:
        event.stop()
        row = self.rows[event.cursor_row]
        if row.copied is None:
            self.app.notify(f"the {row.label} is a secret: labtui does not show or copy it",
                            severity="warning")
            return
        self.app.copy_to_clipboard(row.copied)
        self.app.notify(f"copied {row.label}", timeout=3)

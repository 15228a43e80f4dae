"""The proctor's roster: who attends, with which prefix, workspace, target and own values.

A roster is CSV (a header row) or TOML (one `[[attendee]]` table each). A bad row costs its
attendee only: it is named in `Roster.rejected` and the others are worked on.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labtui.step import Field
from labtui.targets import installed, not_installed_message
from labtui.validation import AZURE_NAMING

ROSTER_REQUIRED: tuple[str, ...] = ("attendee", "prefix", "workspace")
ROSTER_OPTIONAL: tuple[str, ...] = ("target",)

_ATTENDEE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class RosterError(Exception):
    """The roster cannot be used; `problems` holds one line for each, with its line number."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Attendee:
    """One row of the roster: who, their resource prefix, their workspace, their own values.

    `values` holds the attendee's non-secret inputs by name (the prefix among them);
    `secret_vars` maps a secret input's name to the environment variable that holds it, read
    when the attendee's work starts.
    """

    id: str
    prefix: str
    workspace: Path
    line: int
    target: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    secret_vars: Mapping[str, str] = field(default_factory=dict)

    def secrets(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The attendee's secret values, read from the environment variables the roster names."""
        return {name: environ[var] for name, var in self.secret_vars.items() if var in environ}


@dataclass(frozen=True)
class Roster:
    """The attendees of a session, in roster order.

    `rejected` holds one line for each row that could not be used (naming its line): that
    attendee is left out, and the others are worked on as usual.
    """

    path: Path
    attendees: tuple[Attendee, ...]
    rejected: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.attendees)

    def __iter__(self) -> Iterator[Attendee]:
        return iter(self.attendees)

    def select(self, only: Sequence[str]) -> Roster:
        """The attendees named in `only` (all when empty), in roster order.

        Raises:
            RosterError: a name is not in the roster.
        """
        if not only:
            return self
        known = {attendee.id for attendee in self.attendees}
        unknown = [name for name in only if name not in known]
        if unknown:
            raise RosterError([
                f"{self.path.name}: no attendee {name!r} (attendees: {', '.join(sorted(known))})"
                for name in unknown
            ])
        wanted = set(only)
        return Roster(self.path, tuple(a for a in self.attendees if a.id in wanted),
                      self.rejected)


def load_roster(path: Path, fields: Mapping[str, Field],
                environ: Mapping[str, str] | None = None) -> Roster:
    """Read a roster: CSV with a header row, or TOML with one `[[attendee]]` table each.

    Columns: `attendee`, `prefix`, `workspace` (required), `target` (local or azure), and any
    input name from `fields` (a per-attendee value; for a secret input, the name of the
    environment variable that holds it). A relative workspace is relative to the roster's
    folder. Empty cells mean "not given here".

    A row with a problem (a bad cell, a duplicate, a secret variable that is not set) does not
    stop the room: it is left out and named in `Roster.rejected`.

    Raises:
        RosterError: the roster as a whole cannot be used (unreadable, no header, a bad or
            missing column, no usable row); every problem found, each naming its line.
    """
    environ = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError([f"roster {path} does not exist"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError([f"roster {path} cannot be read ({exc})"]) from None
    reader = _read_toml if path.suffix.lower() == ".toml" else _read_csv
    rows, shape_problems = reader(path, text, fields)
    return _validate(path, rows, fields, environ, shape_problems)


@dataclass(frozen=True)
class _Row:
    where: str
    line: int
    cells: dict[str, str]


def _check_columns(where: str, columns: Sequence[str], fields: Mapping[str, Field],
                   *, header: bool) -> list[str]:
    problems = []
    if header:
        problems += [f"{where}: missing column {name!r} (a roster needs "
                     f"{', '.join(ROSTER_REQUIRED)})"
                     for name in ROSTER_REQUIRED if name not in columns]
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            problems.append(f"{where}: column {name!r} appears twice")
        seen.add(name)
        if not name:
            problems.append(f"{where}: a column has no name")
        elif name not in ROSTER_REQUIRED + ROSTER_OPTIONAL and name not in fields:
            known = ", ".join(sorted(fields)) or "none installed"
            problems.append(f"{where}: unknown column {name!r} (not attendee, prefix, workspace, "
                            f"target, or an input of an installed step: {known})")
    return problems


def _read_csv(path: Path, text: str,
              fields: Mapping[str, Field]) -> tuple[list[_Row], list[tuple[int, str]]]:
    """The rows of a CSV roster, and problems of rows that cannot be read (by line)."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[_Row] = []
    problems: list[str] = []
    shape: list[tuple[int, str]] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
                continue
            where = f"{path.name} line {line}"
            if header is None:
                header = [cell.strip() for cell in cells]
                problems += _check_columns(where, header, fields, header=True)
                if problems:
                    raise RosterError(problems)
                continue
            if len(cells) != len(header):
                shape.append((line, f"{where}: {len(cells)} cells, but the header has "
                                    f"{len(header)} columns"))
                continue
            rows.append(_Row(where, line, {name: cell.strip()
                                           for name, cell in zip(header, cells, strict=True)}))
    except csv.Error as exc:
        shape.append((reader.line_num, f"{path.name} line {reader.line_num}: not valid CSV "
                                       f"({exc})"))
    if header is None and not shape:
        raise RosterError([f"{path.name}: empty roster (expected a header row "
                           f"{','.join(ROSTER_REQUIRED)} and one row per attendee)"])
    return rows, shape


def _read_toml(path: Path, text: str,
               fields: Mapping[str, Field]) -> tuple[list[_Row], list[tuple[int, str]]]:
    """The rows of a TOML roster (one per [[attendee]] table); problems raise at once."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RosterError([f"{path.name}: not valid TOML ({exc})"]) from None
    problems = [f"{path.name}: unknown key {key!r} (attendees go in [[attendee]] tables)"
                for key in data if key != "attendee"]
    entries = data.get("attendee", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RosterError([*problems, f"{path.name}: 'attendee' must be [[attendee]] tables"])
    # tomllib gives no positions: the n-th [[attendee]] header is the n-th table's line.
    headers = [number for number, line in enumerate(text.splitlines(), start=1)
               if re.match(r"\s*\[\[\s*attendee\s*\]\]", line)]
    if problems:
        raise RosterError(problems)
    rows = []
    shape: list[tuple[int, str]] = []
    for index, entry in enumerate(entries):
        line = headers[index] if len(headers) == len(entries) else 0
        where = f"{path.name} line {line}" if line else f"{path.name} attendee #{index + 1}"
        # A bad table costs its attendee only, as a bad CSV row does.
        bad = _check_columns(where, list(entry), fields, header=False)
        bad += [f"{where}: missing key {name!r}" for name in ROSTER_REQUIRED
                if name not in entry]
        cells = {}
        for key, raw in entry.items():
            if isinstance(raw, bool):
                cells[key] = "true" if raw else "false"
            elif isinstance(raw, (str, int, float)):
                cells[key] = str(raw).strip()
            else:
                bad.append(f"{where}: {key} must be a string or a number")
        if bad:
            shape += [(line or index + 1, problem) for problem in bad]
        else:
            rows.append(_Row(where, line or index + 1, cells))
    return rows, shape


def _validate(path: Path, rows: Sequence[_Row], fields: Mapping[str, Field],
              environ: Mapping[str, str], shape_problems: Sequence[tuple[int, str]]) -> Roster:
    problems: list[str] = []
    by_line: list[tuple[int, str]] = list(shape_problems)
    attendees: list[Attendee] = []
    first_seen: dict[tuple[str, str], int] = {}

    def unique(row: _Row, what: str, key: str, shown: str) -> bool:
        earlier = first_seen.setdefault((what, key), row.line)
        if earlier != row.line:
            problems.append(f"{row.where}: duplicate {what} {shown!r} (also on line {earlier})")
            return False
        return True

    for row in rows:
        before = len(problems)
        cells = row.cells
        attendee_id = cells.get("attendee", "")
        prefix = cells.get("prefix", "")
        workspace_text = cells.get("workspace", "")
        target = cells.get("target", "") or None
        for name in ROSTER_REQUIRED:
            if name in cells and not cells[name]:
                problems.append(f"{row.where}: {name} is empty")
        if attendee_id and not _ATTENDEE_ID.fullmatch(attendee_id):
            problems.append(f"{row.where}: attendee {attendee_id!r}: 1-64 letters, digits, '.', "
                            "'_', '@' and '-', starting with a letter or digit")
        if prefix:
            rule = AZURE_NAMING["prefix"].check(prefix)
            if rule:
                problems.append(f"{row.where}: prefix {prefix!r}: {rule}")
        if target is not None and target not in installed():
            problems.append(f"{row.where}: {not_installed_message(target)}")
        workspace = (path.parent / Path(workspace_text).expanduser()).resolve()
        values: dict[str, str] = {"prefix": prefix} if prefix else {}
        secret_vars: dict[str, str] = {}
        for name, cell in cells.items():
            if name in ROSTER_REQUIRED + ROSTER_OPTIONAL or not cell:
                continue
            fld = fields[name]
            if fld.is_secret:
                # Never echo the cell: if someone pasted the secret itself, it must not be shown.
                if not _ENV_VAR_NAME.fullmatch(cell):
                    problems.append(
                        f"{row.where}: column {name!r} is a secret input: it must hold the name "
                        f"of an environment variable (like {_example_var(attendee_id, name)}), "
                        "never the secret itself")
                elif cell not in environ:
                    problems.append(
                        f"{row.where}: column {name!r} names an environment variable that is "
                        "not set in this shell (set it, then run the proctor again)")
                else:
                    problem = fld.check(environ[cell])
                    if problem:
                        problems.append(f"{row.where}: {problem} (from the variable in "
                                        f"column {name!r})")
                    secret_vars[name] = cell
                continue
            problem = fld.check(cell)
            if problem:
                problems.append(f"{row.where}: {problem}")
            values[name] = cell
        if attendee_id:
            unique(row, "attendee", attendee_id.lower(), attendee_id)
        if prefix:
            unique(row, "prefix", prefix.lower(), prefix)
        if workspace_text:
            unique(row, "workspace", str(workspace), workspace_text)
        if len(problems) == before:
            attendees.append(Attendee(attendee_id, prefix, workspace, row.line, target, values,
                                      secret_vars))
        by_line += [(row.line, problem) for problem in problems[before:]]
    if not rows and not by_line:
        raise RosterError([f"{path.name}: no attendees"])
    rejected = [problem for _, problem in sorted(by_line, key=lambda p: p[0])]
    if not attendees:
        raise RosterError(rejected)
    return Roster(path, tuple(attendees), tuple(rejected))


def _example_var(attendee_id: str, name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]", "_", attendee_id).upper() or "ATTENDEE"
    return f"{stem}_{name.upper().replace('-', '_')}"

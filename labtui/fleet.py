"""Fleet operations for a proctor: the lab's rollback, run and verify applied to every attendee
of a roster at once, with bounded parallelism.

Front-end neutral: the CLI (`labtui proctor …`) and the app's proctor screen both build a
`Fleet` from a `Roster` and listen to its `FleetEvent`s from worker threads; nothing here
prints. Each attendee gets its own `Session` (its own locked workspace, value resolver and
masker), so values never leak from one attendee to another, and one attendee failing never
stops the others.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import tarfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from labtui.catalog import Catalog, CatalogError, Unit
from labtui.engine import Outcome, Result, Status
from labtui.events import Event, JsonEvent
from labtui.events import Retrying as UnitRetrying
from labtui.masking import Masker
from labtui.retry import RetryPolicy
from labtui.session import Session, SessionOptions, with_targets_options
from labtui.state import Workspace, WorkspaceError, WorkspaceLocked
from labtui.step import Field
from labtui.targets import installed, not_installed_message
from labtui.targets.base import TargetError
from labtui.validation import AZURE_NAMING
from labtui.values import ValuesError, load_answers, parse_set_args

DEFAULT_PARALLEL = 64
"""Workers at once. Each mostly waits on the cloud, so a whole room (20-60) runs in one wave."""

ROSTER_REQUIRED: tuple[str, ...] = ("attendee", "prefix", "workspace")
ROSTER_OPTIONAL: tuple[str, ...] = ("target",)

_ATTENDEE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# --- the roster ------------------------------------------------------------------------------


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


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetEvent(JsonEvent):
    """Something that happened to one attendee's work."""

    attendee: str
    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class AttendeeStarted(FleetEvent):
    """Work on an attendee began: `units` units of work are ahead."""

    action: str
    units: int


@dataclass(frozen=True)
class UnitEvent(FleetEvent):
    """An engine event of one attendee (a step started, a log line, a check …)."""

    event: Event

    def to_json(self) -> dict[str, Any]:
        return {**self.event.to_json(), "attendee": self.attendee}


@dataclass(frozen=True)
class Retrying(FleetEvent):
    """A unit failed for a passing reason; it is tried again after `delay` seconds."""

    unit: str
    attempt: int
    delay: float
    message: str


@dataclass(frozen=True)
class AttendeeFinished(FleetEvent):
    """Work on an attendee ended with `outcome` (an `AttendeeOutcome` value)."""

    action: str
    outcome: str
    message: str
    duration: float


FleetListener = Callable[[FleetEvent], None]
"""A front end's handler; called from worker threads, so it must be thread-safe."""


# --- results ---------------------------------------------------------------------------------


class AttendeeOutcome(StrEnum):
    """How one attendee's work ended."""

    DONE = "done"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    LOCKED = "locked"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"
    """(status) checked: nothing failed or drifted, but some steps are not done yet."""

    @property
    def ok(self) -> bool:
        return self in (AttendeeOutcome.DONE, AttendeeOutcome.UNCHANGED)


@dataclass(frozen=True)
class AttendeeResult:
    """What happened to one attendee: outcome, a one-line message, and each unit's result."""

    attendee: Attendee
    action: str
    outcome: AttendeeOutcome
    message: str
    results: tuple[Result, ...] = ()
    attempts: int = 1
    duration: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"attendee": self.attendee.id, "action": self.action,
                "outcome": self.outcome.value, "message": self.message,
                "attempts": self.attempts, "duration": round(self.duration, 3),
                "units": [{"step": r.unit.id, "env": r.unit.env, "outcome": r.outcome.value,
                           "message": r.message} for r in self.results]}


@dataclass(frozen=True)
class FleetSummary:
    """The outcome of a fleet operation, one result per attendee in roster order.

    Exit code: 0 every attendee ok, 1 any failed or locked (its environment was not brought
    where it should be; the holder is named), 130 cancelled.
    """

    action: str
    attendees: tuple[AttendeeResult, ...]
    duration: float

    @property
    def ok(self) -> bool:
        return all(result.outcome.ok for result in self.attendees)

    def count(self, outcome: AttendeeOutcome) -> int:
        return sum(1 for result in self.attendees if result.outcome is outcome)

    @property
    def exit_code(self) -> int:
        outcomes = {result.outcome for result in self.attendees}
        if AttendeeOutcome.CANCELLED in outcomes:
            return 130
        return 0 if self.ok else 1


class CellState(StrEnum):
    """One attendee's state of one unit, as the proctor's grid shows it."""

    DONE = "done"
    TODO = "todo"
    DRIFT = "drift"
    FAILED = "failed"
    NEEDS_INPUT = "needs-input"


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: a state and, unless done, what is wrong."""

    state: CellState
    message: str = ""
    needs: tuple[str, ...] = ()
    """For needs-input: the inputs that are missing or invalid."""


_STUCK_ORDER = (CellState.FAILED, CellState.DRIFT, CellState.NEEDS_INPUT, CellState.TODO)


@dataclass(frozen=True)
class GridRow:
    """One attendee's row of the grid.

    `live` is False when the attendee's own session holds the workspace: the cells are then
    what the workspace last recorded (nothing was verified, nothing trampled) and `holder`
    names the session. `error` says why an attendee could not be checked at all.
    """

    attendee: Attendee
    cells: tuple[Cell, ...]
    live: bool = True
    holder: Mapping[str, Any] = field(default_factory=dict)
    last_activity: float | None = None
    error: str = ""

    @property
    def done(self) -> int:
        return sum(1 for cell in self.cells if cell.state is CellState.DONE)

    def stuck(self, units: Sequence[Unit]) -> tuple[Unit, Cell] | None:
        """Where the attendee is stuck: the first failed unit, else the first that drifted,
        else the first that needs input, else the first not done yet; None when all are done.

        A failure later in the lab is where the attendee is, even when an earlier step that
        nothing needs (cli-profiles, say) was never done."""
        pairs = list(zip(units, self.cells, strict=True))
        for state in _STUCK_ORDER:
            for unit, cell in pairs:
                if cell.state is state:
                    return unit, cell
        return None

    def at(self, units: Sequence[Unit]) -> str:
        """The label of the unit where the attendee is stuck (see `stuck`), or ""."""
        found = self.stuck(units)
        return found[0].label if found else ""

    def where(self, units: Sequence[Unit]) -> str:
        """Where the attendee is, in a few words: "secrets (dev) failed", "next: seed-repo",
        "finished", or "not checked"."""
        if self.error:
            return "not checked"
        found = self.stuck(units)
        if found is None:
            return "finished"
        unit, cell = found
        if cell.state is CellState.TODO:
            return f"next: {unit.label}"
        words = {CellState.FAILED: "failed", CellState.DRIFT: "drifted",
                 CellState.NEEDS_INPUT: "needs input"}
        return f"{unit.label} {words[cell.state]}"

    def describe(self, units: Sequence[Unit]) -> tuple[str, str]:
        """The attendee's state in one outcome word and one line, for progress and summaries:
        "done" / "failed" / "incomplete" (an `AttendeeOutcome` value) and "15 of 28 done; …"."""
        if self.error:
            return AttendeeOutcome.FAILED.value, f"not checked: {self.error}"
        counted = f"{self.done} of {len(units)} done"
        found = self.stuck(units)
        if found is None:
            return AttendeeOutcome.DONE.value, counted
        unit, cell = found
        words = {CellState.FAILED: "failed", CellState.DRIFT: "drifted",
                 CellState.NEEDS_INPUT: "needs input", CellState.TODO: "not done yet"}
        line = f"{counted}; stuck at {unit.label}: {words[cell.state]}"
        if cell.state in (CellState.FAILED, CellState.DRIFT) and cell.message:
            line += f" — {cell.message}"
        elif cell.needs:
            line += f" ({', '.join(cell.needs)})"
        if cell.state in (CellState.FAILED, CellState.DRIFT):
            return AttendeeOutcome.FAILED.value, line
        return AttendeeOutcome.INCOMPLETE.value, line.replace("stuck at", "next:", 1)


@dataclass(frozen=True)
class Grid:
    """The proctor's view: a row per attendee, a cell per unit.

    Exit code: 0 every cell done, 3 some cell is not (drift, not done yet, missing values),
    1 an attendee could not be checked.
    """

    units: tuple[Unit, ...]
    rows: tuple[GridRow, ...]

    @property
    def exit_code(self) -> int:
        if any(row.error for row in self.rows):
            return 1
        if any(cell.state is not CellState.DONE for row in self.rows for cell in row.cells):
            return 3
        return 0

    def to_json(self, row: GridRow) -> dict[str, Any]:
        return {
            "event": "grid_row", "attendee": row.attendee.id, "live": row.live,
            "holder": dict(row.holder), "last_activity": row.last_activity, "error": row.error,
            "done": row.done, "total": len(self.units), "at": row.at(self.units),
            "cells": [{"step": unit.id, "env": unit.env, "state": cell.state.value,
                       "message": cell.message, "needs": list(cell.needs)}
                      for unit, cell in zip(self.units, row.cells, strict=True)],
        }


# --- the fleet -------------------------------------------------------------------------------


@dataclass
class FleetOptions:
    """How to work on the attendees: what `labtui proctor` was given on its command line."""

    target: str = "local"
    """The target of attendees whose roster row names none."""
    values_file: Path | None = None
    """Shared answers (TOML) for every attendee; a roster cell overrides it."""
    set_values: Sequence[str] = ()
    """Shared `--set key=value` values (they beat the roster, as on the command line)."""
    parallel: int = DEFAULT_PARALLEL
    """Attendees worked on at once."""
    force_unlock: bool = False
    """Take over a workspace whose lock holder is gone."""
    retries: int = 3
    """Further attempts of a unit that failed for a passing reason (the target raised
    `Transient`: throttling, a busy service); the engine's retry policy makes them."""
    backoff: float = 1.0
    """Seconds before the first retry; doubled (with jitter) for each further one."""
    environ: Mapping[str, str] | None = None
    """The environment (default: this process's) that holds shared and per-attendee secrets."""
    command: str = "labtui proctor"
    """The command named in each workspace's lock while it is held."""


class Fleet:
    """Reset, provision, check or export every attendee of a roster.

    Each operation works on the attendees in parallel (at most `options.parallel` at once), on
    each attendee's units in order, and returns a result per attendee; an attendee that fails
    never stops the others. Events go to `listener` from worker threads. `cancel()` (from any
    thread) stops at the next safe point; attendees not started are reported cancelled.
    """

    def __init__(self, roster: Roster, options: FleetOptions | None = None, *,
                 catalog: Catalog | None = None, masker: Masker | None = None) -> None:
        self.roster = roster
        self.options = options or FleetOptions()
        self.catalog = catalog or Catalog.discover()
        self.masker = masker or Masker()
        self.environ = dict(os.environ if self.options.environ is None else self.options.environ)
        self._cancelled = threading.Event()
        self._running: set[Session] = set()
        self._running_lock = threading.Lock()
        self._tries: dict[str, int] = {}
        """Attendee -> the most tries one of their units took in the current operation."""
        self._retry = RetryPolicy(attempts=max(0, self.options.retries) + 1,
                                  first_delay=max(0.0, self.options.backoff))
        # The targets' options are values too: shared in the answers file, or per attendee.
        self.fields = with_targets_options(
            self.catalog.fields(), {self.options.target, *(a.target for a in roster if a.target)})
        fields = self.fields
        if self.options.values_file is not None:
            # Checked once here, so a bad answers file stops everything before anyone starts.
            load_answers(self.options.values_file, fields)
        shared = parse_set_args(self.options.set_values, fields)
        per_attendee = {"prefix"}.union(*(a.values for a in roster), *(a.secret_vars
                                                                     for a in roster))
        clashes = sorted(set(shared) & per_attendee)
        if clashes:
            # --set beats every other source: it would give the whole room one value.
            raise ValuesError([f"--set {name}: the roster gives each attendee their own "
                               f"{name}; change it there" for name in clashes])
        for attendee in roster:
            for secret in attendee.secrets(self.environ).values():
                self.masker.register(secret)
        for fld in fields.values():
            if fld.is_secret and fld.env_var in self.environ:
                self.masker.register(self.environ[fld.env_var])

    # -- operations ------------------------------------------------------------------------

    def reset(self, listener: FleetListener | None = None) -> FleetSummary:
        """Roll back every step for every attendee (newest first); a clean one is a no-op."""
        units = self.catalog.units()
        return self._each("reset", len(units),
                          lambda attendee, emit: self._reset(attendee, units, emit), listener)

    def provision(self, through: str, listener: FleetListener | None = None) -> FleetSummary:
        """Run the lab up to and including step `through` for everyone (a hot start); manual
        steps on the way get their reference answer.

        Raises:
            CatalogError: no such step.
        """
        needed = self.catalog.closure(self.catalog.units([through]))
        # As an attendee would have done it: every step of the sections involved, in the
        # lab's order, up to the step (cli-profiles too, which nothing requires).
        everything = self.catalog.units()
        last = max(i for i, unit in enumerate(everything) if unit.id == through)
        sections = {unit.step.section for unit in needed}
        units = self.catalog.closure(
            [unit for unit in everything[:last + 1] if unit.step.section in sections])
        return self._each("provision", len(units),
                          lambda attendee, emit: self._provision(attendee, through, units, emit),
                          listener)

    def status(self, listener: FleetListener | None = None,
               step_ids: Sequence[str] | None = None) -> Grid:
        """Verify every unit (or those of `step_ids`) for everyone: the attendee-by-unit grid.

        An attendee whose own session holds the workspace is not disturbed: their row shows
        what their workspace last recorded.
        """
        units = tuple(self.catalog.units(step_ids))
        rows: dict[str, GridRow] = {}

        def check(attendee: Attendee, emit: FleetListener) -> AttendeeResult:
            row = self._status(attendee, units, emit)
            rows[attendee.id] = row
            outcome, message = row.describe(units)
            where = "" if row.live else f"; recorded (in use by {_holder_text(row.holder)})"
            return AttendeeResult(attendee, "status", AttendeeOutcome(outcome),
                                  self._mask(message + where, attendee))

        summary = self._each("status", len(units), check, listener)
        ordered = []
        for result in summary.attendees:
            row = rows.get(result.attendee.id)
            if row is None:  # cancelled before it started, or failed before checking
                row = GridRow(result.attendee, tuple(Cell(CellState.TODO) for _ in units),
                              error=result.message)
            ordered.append(row)
        return Grid(units, tuple(ordered))

    def recorded(self, step_ids: Sequence[str] | None = None) -> Grid:
        """What every attendee's workspace last recorded, read without locking it and without
        verifying anything: a first look that is there at once (status verifies)."""
        units = tuple(self.catalog.units(step_ids))
        rows = []
        for attendee in self.roster:
            problem = workspace_problem(attendee)
            if problem:
                rows.append(GridRow(attendee, tuple(Cell(CellState.TODO) for _ in units),
                                    error=problem))
            elif not (attendee.workspace / "state.db").exists():
                rows.append(GridRow(attendee, tuple(Cell(CellState.TODO, "no workspace yet")
                                                    for _ in units)))
            else:
                try:
                    rows.append(_recorded_row(attendee, units, {}, live=True))
                except (WorkspaceError, sqlite3.Error) as exc:
                    rows.append(GridRow(attendee, tuple(Cell(CellState.TODO) for _ in units),
                                        error=self._mask(str(exc), attendee)))
        return Grid(units, tuple(rows))

    def export(self, out: Path, *, archive: bool = True,
               listener: FleetListener | None = None) -> FleetSummary:
        """Write a masked log bundle per attendee under `out`: `<attendee>.tar.gz` (or a
        folder when `archive` is False) with the state summary, journal, every run's log and
        the workspace's log files. Reads workspaces without locking them."""
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self._each("export", 1,
                          lambda attendee, emit: self._export(attendee, out, archive, emit),
                          listener)

    def cancel(self) -> None:
        """Stop at the next safe point: running steps stop cleanly, others never start."""
        self._cancelled.set()
        with self._running_lock:
            for session in self._running:
                session.engine.cancel()

    # -- plumbing --------------------------------------------------------------------------

    def _each(self, action: str, units: int,
              work: Callable[[Attendee, FleetListener], AttendeeResult],
              listener: FleetListener | None) -> FleetSummary:
        started = time.monotonic()
        emit = listener or (lambda event: None)
        workers = max(1, min(self.options.parallel, len(self.roster)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="proctor") as pool:
            futures = [pool.submit(self._guarded, attendee, action, units, work, emit)
                       for attendee in self.roster]
            results = tuple(future.result() for future in futures)
        return FleetSummary(action, results, time.monotonic() - started)

    def _guarded(self, attendee: Attendee, action: str, units: int,
                 work: Callable[[Attendee, FleetListener], AttendeeResult],
                 emit: FleetListener) -> AttendeeResult:
        """Work on one attendee; whatever goes wrong becomes that attendee's result."""
        started = time.monotonic()
        if self._cancelled.is_set():
            result = AttendeeResult(attendee, action, AttendeeOutcome.CANCELLED,
                                    "not started (cancelled)")
        else:
            emit(AttendeeStarted(attendee.id, action, units))
            try:
                result = work(attendee, emit)
            except WorkspaceLocked as exc:
                result = AttendeeResult(attendee, action, AttendeeOutcome.LOCKED,
                                        f"not {_past(action)}: workspace in use by "
                                        f"{_holder_text(exc.holder)}")
            except ValuesError as exc:
                result = AttendeeResult(attendee, action, AttendeeOutcome.FAILED,
                                        self._mask("; ".join(exc.problems), attendee))
            except (WorkspaceError, TargetError, CatalogError) as exc:
                result = AttendeeResult(attendee, action, AttendeeOutcome.FAILED,
                                        self._mask(str(exc), attendee))
            except Exception as exc:  # a bug must cost one attendee, never the whole room
                result = AttendeeResult(attendee, action, AttendeeOutcome.FAILED,
                                        self._mask(f"unexpected error {type(exc).__name__}: "
                                                   f"{exc}", attendee))
        result = AttendeeResult(result.attendee, result.action, result.outcome, result.message,
                                result.results, result.attempts, time.monotonic() - started)
        emit(AttendeeFinished(attendee.id, action, result.outcome.value, result.message,
                              result.duration))
        return result

    def _mask(self, text: str, attendee: Attendee) -> str:
        masker = self._attendee_masker(attendee)
        return self.masker.redact(masker.redact(text))

    def _attendee_masker(self, attendee: Attendee) -> Masker:
        masker = Masker()
        for secret in attendee.secrets(self.environ).values():
            masker.register(secret)
        return masker

    def _environ_for(self, attendee: Attendee) -> dict[str, str]:
        """The environment an attendee's values resolve from: the proctor's, without the
        LABTUI_* variables of inputs the roster row gives (the row is about this attendee,
        a variable in the proctor's shell is about everyone)."""
        given = set(attendee.values) | set(attendee.secret_vars)
        fields = self.fields
        hidden = {fields[name].env_var for name in given if name in fields}
        hidden.add("LABTUI_PREFIX")
        return {key: value for key, value in self.environ.items() if key not in hidden}

    @contextmanager
    def _session(self, attendee: Attendee, action: str,
                 emit: FleetListener) -> Iterator[Session]:
        """The attendee's workspace, locked, with an engine whose events go to `emit`."""
        answers = {**attendee.values, **attendee.secrets(self.environ)}
        with self._running_lock:
            self._tries.pop(attendee.id, None)

        def forward(event: Event) -> None:
            if isinstance(event, UnitRetrying):
                # The engine's retry policy is the proctor's too: it says so per attendee.
                with self._running_lock:
                    self._tries[attendee.id] = max(self._tries.get(attendee.id, 1),
                                                   event.attempt + 1)
                label = f"{event.step} ({event.env})" if event.env else event.step
                emit(Retrying(attendee.id, label, event.attempt, event.delay, event.message))
            emit(UnitEvent(attendee.id, event))

        options = SessionOptions(
            workspace=attendee.workspace, target=attendee.target or self.options.target,
            values_file=self.options.values_file, set_values=self.options.set_values,
            environ=self._environ_for(attendee), extra_answers=answers,
            command=f"{self.options.command} {action} ({attendee.id})",
            force_unlock=self.options.force_unlock, retry=self._retry,
        )
        session = Session(options, catalog=self.catalog, masker=self._attendee_masker(attendee),
                          listeners=[forward])
        with self._running_lock:
            self._running.add(session)
        try:
            if self._cancelled.is_set():
                session.engine.cancel()
            yield session
        finally:
            with self._running_lock:
                self._running.discard(session)
            session.close()

    def _check_prefix(self, session: Session, attendee: Attendee) -> str:
        """A workspace that remembers another prefix is not this attendee's (a roster row
        pointing at the wrong folder): touching it could remove someone else's resources."""
        stored = session.workspace.get_value("prefix", None)
        if stored is not None and stored != attendee.prefix:
            return (f"workspace {attendee.workspace} holds prefix {stored!r}, but the roster "
                    f"says {attendee.prefix!r} (line {attendee.line}): is the row pointing at "
                    "the wrong workspace? Fix the roster or the workspace, then try again")
        return ""

    def _tries_of(self, attendee: Attendee) -> int:
        """How many tries the attendee's most retried unit took (1: none was retried)."""
        with self._running_lock:
            return self._tries.pop(attendee.id, 1)

    # -- reset -----------------------------------------------------------------------------

    def _reset(self, attendee: Attendee, units: Sequence[Unit],
               emit: FleetListener) -> AttendeeResult:
        problem = workspace_problem(attendee)
        if problem:
            return AttendeeResult(attendee, "reset", AttendeeOutcome.FAILED, problem)
        if not (attendee.workspace / "state.db").exists():
            return AttendeeResult(attendee, "reset", AttendeeOutcome.UNCHANGED,
                                  "no workspace yet: nothing to remove")
        with self._session(attendee, "reset", emit) as session:
            wrong = self._check_prefix(session, attendee)
            if wrong:
                return AttendeeResult(attendee, "reset", AttendeeOutcome.FAILED, wrong)
            # What steps no longer installed made is removed first, as `--all --rollback` does.
            units = [*units, *session.engine.uninstalled_units()]
            results = session.engine.rollback(units)
        return _reset_result(attendee, results, len(units), self._tries_of(attendee))

    # -- provision -------------------------------------------------------------------------

    def _provision(self, attendee: Attendee, through: str, units: Sequence[Unit],
                   emit: FleetListener) -> AttendeeResult:
        problem = workspace_problem(attendee)
        if problem:
            return AttendeeResult(attendee, "provision", AttendeeOutcome.FAILED, problem)
        with self._session(attendee, "provision", emit) as session:
            wrong = self._check_prefix(session, attendee)
            if wrong:
                return AttendeeResult(attendee, "provision", AttendeeOutcome.FAILED, wrong)
            results = session.engine.run(units, solve_manual=True)
            attempts = self._tries_of(attendee)
        outcomes = [r.outcome for r in results]
        failed = [r for r in results if not r.ok]
        if Outcome.CANCELLED in outcomes:
            outcome, message = AttendeeOutcome.CANCELLED, "cancelled; run provision again"
        elif failed:
            outcome, message = AttendeeOutcome.FAILED, failed[0].message
        elif all(o is Outcome.SKIPPED for o in outcomes):
            outcome = AttendeeOutcome.UNCHANGED
            message = f"already provisioned through {through}: nothing to do"
        else:
            ran = sum(1 for o in outcomes if o is Outcome.DONE)
            outcome = AttendeeOutcome.DONE
            message = (f"provisioned through {through}: {ran} done, "
                       f"{len(outcomes) - ran} already done")
        return AttendeeResult(attendee, "provision", outcome, message, tuple(results), attempts)

    # -- status ----------------------------------------------------------------------------

    def _status(self, attendee: Attendee, units: Sequence[Unit],
                emit: FleetListener) -> GridRow:
        problem = workspace_problem(attendee)
        if problem:
            return GridRow(attendee, tuple(Cell(CellState.TODO) for _ in units), error=problem)
        if not (attendee.workspace / "state.db").exists():
            return GridRow(attendee, tuple(Cell(CellState.TODO, "no workspace yet")
                                           for _ in units))
        try:
            with self._session(attendee, "status", emit) as session:
                return self._verified_row(attendee, session, units)
        except WorkspaceLocked as exc:
            return _recorded_row(attendee, units, exc.holder)

    def _verified_row(self, attendee: Attendee, session: Session,
                      units: Sequence[Unit]) -> GridRow:
        wrong = self._check_prefix(session, attendee)
        if wrong:
            return GridRow(attendee, tuple(Cell(CellState.TODO) for _ in units), error=wrong)
        engine = session.engine
        last = max((r.finished or r.started for r in session.workspace.runs()), default=None)
        before = {(u.id, u.env): engine.status(u) for u in units}
        cells: dict[tuple[str, str | None], Cell] = {}
        checkable = []
        for unit in units:
            problems = session.resolver.problems(unit.step.inputs, unit.env)
            if problems:
                needs = tuple(fld.name for fld in unit.step.inputs
                              if session.resolver.problems([fld], unit.env))
                cells[(unit.id, unit.env)] = Cell(
                    CellState.NEEDS_INPUT, self._mask("; ".join(problems), attendee), needs)
            else:
                checkable.append(unit)
        for result in engine.verify(checkable):
            key = (result.unit.id, result.unit.env)
            record = session.workspace.status(result.unit.id, result.unit.env)
            cells[key] = _verified_cell(result, before[key], record.message if record else "")
        return GridRow(attendee, tuple(cells[(u.id, u.env)] for u in units),
                       last_activity=last)

    # -- export ----------------------------------------------------------------------------

    def _export(self, attendee: Attendee, out: Path, archive: bool,
                emit: FleetListener) -> AttendeeResult:
        problem = workspace_problem(attendee)
        if problem:
            return AttendeeResult(attendee, "export", AttendeeOutcome.FAILED, problem)
        if not (attendee.workspace / "state.db").exists():
            return AttendeeResult(attendee, "export", AttendeeOutcome.UNCHANGED,
                                  "no workspace yet: nothing to export")
        masker = self._attendee_masker(attendee)
        with Workspace(attendee.workspace, read_only=True) as workspace:
            try:
                secrets = workspace.secret_values()
            except WorkspaceError as exc:
                raise WorkspaceError(f"{exc}; nothing exported, as its secrets could not be "
                                     "masked") from None
            for secret in secrets:
                masker.register(secret)
            files = _bundle(attendee, workspace, self.catalog)

        def redact(text: str) -> str:
            return self.masker.redact(masker.redact(text))

        masked = {name: redact(text).encode() for name, text in files.items()}
        name = _safe_name(attendee.id)
        if archive:
            destination = out / f"{name}.tar.gz"
            _write_tar(destination, name, masked)
        else:
            destination = out / name
            _write_folder(destination, masked)
        runs = sum(1 for key in files if key.startswith("runs/"))
        return AttendeeResult(attendee, "export", AttendeeOutcome.DONE,
                              f"exported {runs} run log{'s' if runs != 1 else ''} to "
                              f"{destination}")


def workspace_problem(attendee: Attendee) -> str:
    """Why the roster's workspace path cannot be this attendee's folder, or "" if it can
    (a folder, or nothing there yet)."""
    path = attendee.workspace
    if path.exists() and not path.is_dir():
        return (f"workspace {path} is a file, not a folder (roster line {attendee.line}): "
                "point the row's workspace at a folder")
    state = path / "state.db"
    if path.is_dir() and state.exists() and not state.is_file():
        return f"workspace {path} holds a state.db that is not a file: is it a workspace?"
    return ""


def _past(action: str) -> str:
    return {"reset": "reset", "provision": "provisioned", "status": "checked",
            "export": "exported"}.get(action, action)


def _holder_text(holder: Mapping[str, Any]) -> str:
    started = holder.get("started")
    since = (f", since {time.strftime('%H:%M:%S', time.localtime(started))}"
             if isinstance(started, (int, float)) else "")
    return (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
            f"({holder.get('command', '?')}{since})")


def _reset_result(attendee: Attendee, results: Sequence[Result], total: int,
                  attempts: int) -> AttendeeResult:
    failed = [r for r in results if r.outcome is Outcome.FAILED]
    removed = [r for r in results if r.outcome is Outcome.ROLLED_BACK]
    if any(r.outcome is Outcome.CANCELLED for r in results) or len(results) < total:
        outcome, message = AttendeeOutcome.CANCELLED, "cancelled; reset again to finish"
    elif failed:
        outcome = AttendeeOutcome.FAILED
        message = "; ".join(r.message for r in failed)
    elif removed:
        outcome = AttendeeOutcome.DONE
        message = "reset: " + ", ".join(f"{r.unit.label} {r.message}" for r in reversed(removed))
    else:
        outcome, message = AttendeeOutcome.UNCHANGED, "already clean: nothing to remove"
    return AttendeeResult(attendee, "reset", outcome, message, tuple(results), attempts)


def _verified_cell(result: Result, before: Status, recorded: str) -> Cell:
    if result.outcome is Outcome.DONE:
        return Cell(CellState.DONE)
    if result.outcome in (Outcome.DRIFT, Outcome.NOT_DONE):
        if before in (Status.DONE, Status.DRIFT):
            return Cell(CellState.DRIFT, result.message)
        if before is Status.FAILED:
            return Cell(CellState.FAILED, recorded or result.message)
        return Cell(CellState.TODO, result.message)
    return Cell(CellState.FAILED, result.message)


_RECORDED = {Status.DONE.value: CellState.DONE, Status.DRIFT.value: CellState.DRIFT,
             Status.FAILED.value: CellState.FAILED}


def _recorded_row(attendee: Attendee, units: Sequence[Unit],
                  holder: Mapping[str, Any], *, live: bool = False) -> GridRow:
    """What an attendee's workspace last recorded, read without the lock (SQLite in WAL mode
    lets us read while their own session writes; `holder` names that session)."""
    with Workspace(attendee.workspace, read_only=True) as workspace:
        statuses = workspace.statuses()
        runs = workspace.runs()
        cells = []
        for unit in units:
            record = statuses.get((unit.id, unit.env))
            state = _RECORDED.get(record.status, CellState.TODO) if record else CellState.TODO
            message = record.message if record else ""
            if state is not CellState.DONE and not message:
                message = "; ".join(f"{name}: {text}" for name, ok, text, _ in
                                    workspace.checks(unit.id, unit.env) if not ok)
            cells.append(Cell(state, message))
    last = max((r.finished or r.started for r in runs), default=None)
    return GridRow(attendee, tuple(cells), live=live, holder=dict(holder), last_activity=last)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".") or "attendee"


def _bundle(attendee: Attendee, workspace: Workspace, catalog: Catalog) -> dict[str, str]:
    """The files of an attendee's bundle, by relative name (not yet masked)."""
    files: dict[str, str] = {}
    runs = []
    # The run logs and the whole journal are read straight from state.db (read-only): the
    # Workspace API offers the last run's lines and one unit's journal, not all of them.
    db = sqlite3.connect(f"file:{workspace.path / 'state.db'}?mode=ro", uri=True)
    try:
        journal = [{"step": step, "env": env or None, "kind": kind, "ref": ref,
                    "undo": json.loads(undo), "created": created}
                   for step, env, kind, ref, undo, created in db.execute(
                       "SELECT step, env, kind, ref, undo, created FROM journal ORDER BY seq")]
        for record in workspace.runs():
            lines = [f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(at))} {level}: {line}"
                     for at, level, line in db.execute(
                         "SELECT at, level, line FROM run_logs WHERE run_id = ? ORDER BY seq",
                         (record.id,))]
            label = f"{record.step}-{record.env}" if record.env else record.step
            name = f"runs/{record.id:05d}-{label}-{record.action}.log"
            files[name] = "\n".join(lines) + ("\n" if lines else "")
            runs.append({"id": record.id, "step": record.step, "env": record.env,
                         "action": record.action, "started": record.started,
                         "finished": record.finished, "outcome": record.outcome,
                         "message": record.message, "log": name})
    finally:
        db.close()
    statuses = []
    for (step, env), state in sorted(workspace.statuses().items(),
                                     key=lambda item: (item[0][0], item[0][1] or "")):
        checks = [{"name": name, "ok": ok, "message": message, "hint": hint}
                  for name, ok, message, hint in workspace.checks(step, env)]
        statuses.append({"step": step, "env": env, "status": state.status,
                         "message": state.message, "updated": state.updated,
                         "checks": checks})
    summary = {
        "attendee": attendee.id, "prefix": attendee.prefix,
        "workspace": str(attendee.workspace), "exported": time.time(),
        "steps": [unit.label for unit in catalog.units()],
        "statuses": statuses, "journal": journal, "runs": runs,
    }
    files["summary.json"] = json.dumps(summary, indent=2, default=str) + "\n"
    logs = workspace.path / "logs"
    if logs.is_dir():
        for path in sorted(p for p in logs.rglob("*") if p.is_file()):
            files[f"logs/{path.relative_to(logs).as_posix()}"] = path.read_text(
                encoding="utf-8", errors="replace")
    return files


def _write_tar(destination: Path, root: str, files: Mapping[str, bytes]) -> None:
    partial = destination.with_name(destination.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
        now = time.time()
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o600, int(now)
            tar.addfile(info, io.BytesIO(data))
    os.replace(partial, destination)


def _write_folder(destination: Path, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        path = destination / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)

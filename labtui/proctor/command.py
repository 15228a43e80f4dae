"""`labtui proctor …`: reset, provision, check or export every attendee of a roster at once.

The command line builds its parser (and so imports this module) for every labtui command,
so only argparse is imported here; the fleet (`labtui.proctor.fleet`) and Rich are imported
when a proctor command actually runs.

Progress: a Rich progress row per attendee on stderr in a terminal, plain lines when piped,
JSON lines on stdout (every event tagged with its attendee) with --json.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

    from labtui.masking import Masker
    from labtui.proctor.events import FleetEvent
    from labtui.proctor.results import FleetSummary, Grid, GridRow

EXIT_CODES = (
    "exit codes: 0 every attendee ok; 1 an attendee failed, or its workspace was in use by "
    "another process (it was not touched, so it counts as failed; the holder is named), or "
    "its roster row was left out as bad (named on stderr; the others go on); 2 bad usage, or "
    "a roster that cannot be used at all; 3 (status) a step is not done or has drifted; "
    "130 interrupted"
)


APPROVAL_STAGES = {"production": "release-pipeline"}
"""The stages `proctor approve --stage` approves, and the step whose action does it."""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the proctor's subcommands (reset, provision, status, export, approve, app) to
    `labtui proctor`."""
    parser.description = ("Work on every attendee of a roster at once: reset their "
                          "environments, provision them ahead, see who is stuck (or waiting for a "
                          "review or an approval), approve their releases, export logs.")
    parser.epilog = EXIT_CODES
    actions = parser.add_subparsers(dest="proctor_command", required=True,
                                    metavar="{reset,provision,status,export,approve,app}")
    shared = _shared_options()
    actions.add_parser(
        "reset", parents=[shared], epilog=EXIT_CODES,
        help="roll back every step for every attendee (a clean one is left as it is)",
        description="Roll back every step, newest first, for every attendee in parallel. "
                    "A clean environment is left alone and reported so; an attendee whose "
                    "workspace is in use is reported, not touched.")
    provision = actions.add_parser(
        "provision", parents=[shared], epilog=EXIT_CODES,
        help="run the lab up to a step for everyone (hot start)",
        description="Run every step up to and including --through (with what it requires) "
                    "for every attendee in parallel.")
    provision.add_argument("--through", required=True, metavar="STEP",
                           help="the last step to run (see `labtui list`)")
    status = actions.add_parser(
        "status", parents=[shared], epilog=EXIT_CODES,
        help="verify every step for everyone: a grid of attendees by steps",
        description="Verify every step for every attendee and show the grid. An attendee "
                    "whose own session is running is not disturbed: their row shows what "
                    "their workspace last recorded.")
    status.add_argument("--step", action="append", dest="status_steps", metavar="ID",
                        help="only these steps' columns (repeatable)")
    export = actions.add_parser(
        "export", parents=[shared], epilog=EXIT_CODES,
        help="write a masked log bundle per attendee",
        description="Write a bundle per attendee (state summary, journal, every run's log, "
                    "the workspace's log files), with every secret masked. Reads workspaces "
                    "without locking them.")
    export.add_argument("--out", type=Path, metavar="DIR",
                        help="where the bundles go (default: ./labtui-export-DATE-TIME)")
    export.add_argument("--format", choices=("tar.gz", "dir"), default="tar.gz",
                        dest="export_format", help="a .tar.gz per attendee (default) or a folder")
    approve = actions.add_parser(
        "approve", parents=[shared], epilog=EXIT_CODES,
        help="approve every attendee's pending release stage (Production) at once",
        description="Approve, for every attendee in parallel, the approval their release's "
                    "stage waits on, as the release manager: each attendee's own approver "
                    "(their 'approver' value), or the one --as names. An attendee with "
                    "nothing waiting is reported, and counts as failed.")
    approve.add_argument("--stage", required=True, type=str.lower, choices=APPROVAL_STAGES,
                         help="the stage whose approval to give (production: QA deploys on "
                              "its own)")
    approve.add_argument("--as", dest="approve_as", metavar="NAME", default="",
                         help="approve as this person (default: each attendee's approver)")
    approve.add_argument("--comment", dest="approve_comment", metavar="TEXT", default="",
                         help="what the approval says (shown in each attendee's log)")
    actions.add_parser(
        "app", parents=[shared], epilog=EXIT_CODES,
        help="the proctor screen: the attendee-by-step grid with reset, provision, status",
        description="Open the proctor screen in the terminal: a row per attendee, a column "
                    "per step; check everyone, provision through a step, reset, cancel, with "
                    "live progress.")


def _shared_options() -> argparse.ArgumentParser:
    """Options of every proctor action. The common labtui options are repeated with SUPPRESS
    defaults so they may also follow the action (`labtui proctor reset --roster r.csv --json`)
    without resetting what was given before it."""
    from labtui.command_line import positive_count, target_argument

    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--roster", type=Path, required=True, metavar="FILE",
                        help="CSV (header: attendee,prefix,workspace[,target][,INPUT…]) or TOML "
                             "([[attendee]] tables); a secret input's column holds the name of "
                             "the environment variable holding it")
    shared.add_argument("--parallel", type=positive_count, default=None, metavar="N",
                        help="attendees worked on at once (default 64: the work is waiting)")
    shared.add_argument("--only", action="extend", nargs="+", default=[], metavar="ID",
                        help="only these attendees (roster 'attendee' values)")
    shared.add_argument("--retries", type=int, default=3, metavar="N",
                        help="retries of a step that failed for a passing reason (throttling, "
                             "timeouts), with exponential backoff (default 3)")
    shared.add_argument("--backoff", type=float, default=1.0, help=argparse.SUPPRESS)
    shared.add_argument("--target", type=target_argument, default=argparse.SUPPRESS,
                        metavar="NAME",
                        help="target of attendees whose row names none (default: local)")
    shared.add_argument("--values", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                        help="shared answers (TOML) for everyone; a roster cell overrides it")
    shared.add_argument("--set", action="append", default=argparse.SUPPRESS,
                        metavar="KEY=VALUE", dest="set_values",
                        help="a shared input value for everyone (not for secrets)")
    shared.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="one JSON event per line on stdout, tagged with the attendee")
    shared.add_argument("--force-unlock", action="store_true", default=argparse.SUPPRESS,
                        help="take over workspaces whose lock holder is gone")
    return shared


def run(args: argparse.Namespace, masker: Masker) -> int:
    """Run a proctor subcommand; returns the exit code (see EXIT_CODES)."""
    from labtui.catalog import Catalog
    from labtui.proctor.fleet import DEFAULT_PARALLEL, Fleet, FleetOptions
    from labtui.proctor.roster import RosterError, load_roster
    from labtui.session import with_targets_options
    from labtui.targets import installed

    if getattr(args, "workspace", None) is not None:
        _error("proctor takes each attendee's workspace from the roster; drop --workspace")
        return 2
    catalog = Catalog.discover()
    try:
        # A row may give an option of its target (a subscription) like any input.
        fields = with_targets_options(catalog.fields(), installed())
        roster = load_roster(args.roster, fields).select(args.only)
    except RosterError as exc:
        for problem in exc.problems:
            _error(problem)
        return 2
    for problem in roster.rejected:
        # One bad row never blocks the room: it is named, the others are worked on.
        _error(f"{problem} (left out; the other attendees go on)")
    if args.proctor_command == "provision":
        catalog.get(args.through)  # an unknown step is a usage error, before anyone starts
    options = FleetOptions(
        target=args.target, values_file=args.values, set_values=args.set_values,
        parallel=args.parallel or DEFAULT_PARALLEL, force_unlock=args.force_unlock,
        retries=max(0, args.retries), backoff=args.backoff, command="labtui proctor",
    )
    fleet = Fleet(roster, options, catalog=catalog, masker=masker)
    if args.proctor_command == "app":
        from labtui.app.proctor_screen import run_proctor_app

        return run_proctor_app(roster, catalog, options, masker)
    renderer: FleetJsonLines | FleetConsole = (
        FleetJsonLines(masker) if args.json else FleetConsole(masker))
    from labtui.command_line import cancel_on_interrupt

    say = FleetConsole(masker, live=False)
    try:
        with cancel_on_interrupt(fleet.cancel, lambda m: say.print(m, "yellow")):
            if args.proctor_command == "status":
                grid = fleet.status(renderer, args.status_steps)
            elif args.proctor_command == "reset":
                summary = fleet.reset(renderer)
            elif args.proctor_command == "provision":
                summary = fleet.provision(args.through, renderer)
            elif args.proctor_command == "approve":
                given = {"as": args.approve_as, "comment": args.approve_comment}
                summary = fleet.act(APPROVAL_STAGES[args.stage], "approve",
                                    {k: v for k, v in given.items() if v}, renderer,
                                    person_from="approver")
            else:
                out = args.out or Path(f"labtui-export-{time.strftime('%Y%m%d-%H%M%S')}")
                try:
                    out.mkdir(parents=True, exist_ok=True, mode=0o700)
                except OSError as exc:
                    _error(f"--out {out}: cannot create it ({exc.strerror or exc})")
                    return 2
                summary = fleet.export(out, archive=args.export_format == "tar.gz",
                                       listener=renderer)
    finally:
        renderer.close()
    if args.proctor_command == "status":
        renderer.grid(grid)
        code = grid.exit_code
    else:
        renderer.summary(summary)
        code = summary.exit_code
    if roster.rejected:
        renderer.rejected(roster.rejected)
        if code != 130:
            code = 1  # a left-out attendee was not worked on: like one that failed
    return code


def _error(message: str) -> None:
    print(f"labtui: {message}", file=sys.stderr)


# --- rendering -------------------------------------------------------------------------------

SYMBOLS = {"done": "✓", "unchanged": "·", "failed": "✗", "locked": "⊘", "cancelled": "■",
           "incomplete": "◔"}
STYLES = {"done": "green", "unchanged": "dim", "failed": "red", "locked": "red",
          "cancelled": "yellow", "incomplete": "yellow"}
CELL_SYMBOLS = {"done": "✓", "todo": "·", "drift": "!", "failed": "✗", "needs-input": "?"}
CELL_STYLES = {"done": "green", "todo": "dim", "drift": "yellow", "failed": "red",
               "needs-input": "magenta"}
QUIET_UNIT_OUTCOMES = {"clean", "skipped", "done", "drift", "not done"}
"""Unit outcomes not printed line by line when piped: the summary or the grid shows them."""


class FleetJsonLines:
    """Every fleet event as one JSON object per line on stdout, then the results."""

    def __init__(self, masker: Masker, stream: IO[str] | None = None) -> None:
        self.masker = masker
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def __call__(self, event: FleetEvent) -> None:
        self.write(event.to_json())

    def write(self, data: dict[str, Any]) -> None:
        import json

        line = self.masker.redact(json.dumps(data, default=str))
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def summary(self, summary: FleetSummary) -> None:
        for result in summary.attendees:
            self.write({"event": "attendee_result", **result.to_json()})
        self.write({"event": "summary", "action": summary.action,
                    "attendees": len(summary.attendees), "duration": round(summary.duration, 3),
                    "outcomes": _counts(summary), "exit_code": summary.exit_code})

    def grid(self, grid: Grid) -> None:
        for row in grid.rows:
            self.write(grid.to_json(row))
        self.write({"event": "summary", "action": "status", "attendees": len(grid.rows),
                    "exit_code": grid.exit_code})

    def rejected(self, problems: Sequence[str]) -> None:
        for problem in problems:
            self.write({"event": "roster_row_rejected", "message": problem})

    def close(self) -> None:
        self.stream.flush()


class FleetConsole:
    """Human rendering on stderr: a progress row per attendee (current step, n of N, outcome)
    in a terminal, plain lines otherwise; the status grid on stdout."""

    def __init__(self, masker: Masker, *, live: bool | None = None,
                 stream: IO[str] | None = None, out: IO[str] | None = None) -> None:
        from rich.console import Console

        self.masker = masker
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.rich = Console(file=self.stream, highlight=False, soft_wrap=not self.live,
                            force_terminal=self.live or None)
        out = out or sys.stdout
        # A pipe or file has no width: never squeeze the grid into 80 columns there.
        self.out = Console(file=out, highlight=False, width=None if out.isatty() else 400)
        self._progress: Any = None
        self._tasks: dict[str, tuple[Any, int]] = {}
        self._lock = threading.RLock()

    def print(self, text: str, style: str | None = None) -> None:
        with self._lock:
            self.rich.print(self.masker.redact(text), style=style, markup=False)

    def __call__(self, event: FleetEvent) -> None:
        with self._lock:
            self._render(event)

    def _start_live(self) -> Any:
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.table import Column

            # The note gives way first; the count and the time are never cut ("28…").
            self._progress = Progress(
                SpinnerColumn(), TextColumn("[bold]{task.description}",
                                            table_column=Column(no_wrap=True)),
                BarColumn(bar_width=12), MofNCompleteColumn(table_column=Column(no_wrap=True)),
                TimeElapsedColumn(table_column=Column(no_wrap=True)),
                TextColumn("{task.fields[note]}",
                           table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")),
                console=self.rich, transient=False, expand=True,
            )
            self._progress.start()
        return self._progress

    def _render(self, event: FleetEvent) -> None:
        from labtui.events import StepFinished, StepStarted
        from labtui.proctor.events import AttendeeFinished, AttendeeStarted, Retrying, UnitEvent

        name = event.attendee
        if isinstance(event, AttendeeStarted):
            if self.live:
                total = max(1, event.units)
                self._tasks[name] = (self._start_live().add_task(name, total=total,
                                                                 note="starting"), total)
        elif isinstance(event, UnitEvent):
            inner = event.event
            label = f"{inner.step} ({inner.env})" if inner.env else inner.step
            if isinstance(inner, StepStarted) and self.live and name in self._tasks:
                self._progress.update(self._tasks[name][0], note=f"{inner.action} {label}")
            elif isinstance(inner, StepFinished):
                if self.live and name in self._tasks:
                    self._progress.advance(self._tasks[name][0])
                elif not self.live and inner.outcome not in QUIET_UNIT_OUTCOMES:
                    self.print(f"  [{name}] {inner.action} {label}: {inner.outcome}"
                               f"{' — ' + inner.message if inner.message else ''}",
                               "red" if inner.outcome == "failed" else None)
        elif isinstance(event, Retrying):
            self.print(f"↻ {name} {event.unit}: {event.message} — retry {event.attempt} in "
                       f"{event.delay:.1f}s", "yellow")
        elif isinstance(event, AttendeeFinished):
            if self.live and name in self._tasks:
                task, total = self._tasks.pop(name)
                self._progress.update(task, completed=total,
                                      description=f"{SYMBOLS.get(event.outcome, '?')} {name}",
                                      note=_shorten(self.masker.redact(event.message), 300))
            else:
                self.print(f"{SYMBOLS.get(event.outcome, '?')} {name}: {event.outcome} — "
                           f"{event.message} ({event.duration:.1f}s)",
                           STYLES.get(event.outcome))

    def close(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None

    def summary(self, summary: FleetSummary) -> None:
        """The closing table of attendees (stderr), then one line of counts."""
        from rich.table import Table
        from rich.text import Text

        table = Table(title=f"proctor {summary.action}", title_justify="left")
        for column in ("attendee", "outcome", "message"):
            table.add_column(column, overflow="fold")
        for result in summary.attendees:
            outcome = result.outcome.value
            table.add_row(Text(result.attendee.id),
                          Text(f"{SYMBOLS.get(outcome, '?')} {outcome}",
                               style=STYLES.get(outcome, "")),
                          Text(self.masker.redact(result.message)))
        counts = ", ".join(f"{n} {outcome}" for outcome, n in _counts(summary).items())
        with self._lock:
            self.rich.print(table)
            self.rich.print(Text(f"{summary.action}: {len(summary.attendees)} attendees in "
                                 f"{summary.duration:.1f}s: {counts}"))

    def grid(self, grid: Grid) -> None:
        """The status (stdout): a table of where each attendee is, then the marks, a column
        per step with a mark per environment — headed by the step's name when every column
        fits the width, else by its number (named below), split into blocks that fit — then
        what is missing, drifted or failed, grouped across attendees."""
        from rich import box
        from rich.table import Table
        from rich.text import Text

        steps: list[str] = []
        for unit in grid.units:
            if unit.id not in steps:
                steps.append(unit.id)
        total = len(grid.units)
        width = self.out.width
        where = Table(title="proctor status", title_justify="left", box=box.SIMPLE_HEAD,
                      padding=(0, 1), pad_edge=False)
        sessions = any(not row.live for row in grid.rows)
        longest = max((len(row.attendee.id) for row in grid.rows), default=8)
        counts = len(f"{total}/{total}")
        # Only "at" gives way: "15/28" must read 15 of 28, never "15/2" or "…".
        others = max(longest, 8) + max(counts, 4) + 10 + (10 if sessions else 0) + 4
        where.add_column("attendee", no_wrap=True, min_width=max(longest, 8))
        where.add_column("done", no_wrap=True, min_width=max(counts, 4))
        where.add_column("at", no_wrap=True, overflow="ellipsis",
                         max_width=max(12, width - others))
        if sessions:
            where.add_column("session", no_wrap=True, min_width=9)
        where.add_column("active", no_wrap=True, min_width=8)
        now = time.time()
        needs: dict[str, list[str]] = {}
        notes: dict[str, list[str]] = {}
        marks_of: dict[str, dict[str, Text]] = {}
        for row in grid.rows:
            marks: dict[str, Text] = {step: Text() for step in steps}
            wanted: list[str] = []
            for unit, cell in zip(grid.units, row.cells, strict=True):
                state = cell.state.value
                marks[unit.id].append(CELL_SYMBOLS.get(state, "?"), CELL_STYLES.get(state, ""))
                wanted += [name for name in cell.needs if name not in wanted]
                if cell.state.value in ("drift", "failed") and cell.message:
                    text = f"{unit.label}: {state} — {cell.message}"
                    notes.setdefault(text, []).append(row.attendee.id)
            marks_of[row.attendee.id] = marks
            if wanted:
                needs.setdefault(", ".join(wanted), []).append(row.attendee.id)
            if row.error:
                notes.setdefault(f"not checked: {row.error}", []).append(row.attendee.id)
            session = "" if row.live else f"pid {row.holder.get('pid', '?')}"
            where.add_row(Text(row.attendee.id),
                          Text("?", style="red") if row.error else f"{row.done}/{total}",
                          _at_text(row, grid), *([session] if sessions else []),
                          _ago(row.last_activity, now))
        self.out.print(where, soft_wrap=False)

        name_width = max(longest, len("marks")) + 1
        envs = {step: sum(1 for unit in grid.units if unit.id == step) for step in steps}
        named = name_width + sum(max(len(step), envs[step]) + 1 for step in steps) <= width
        headers = {step: step if named else str(number)
                   for number, step in enumerate(steps, start=1)}
        for block in _blocks(steps, lambda step: max(len(headers[step]), envs[step]) + 1,
                             width - name_width):
            table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False)
            table.add_column("marks", no_wrap=True, min_width=name_width - 1)
            for step in block:
                table.add_column(headers[step], justify="center", no_wrap=True,
                                 min_width=max(len(headers[step]), envs[step]))
            for row in grid.rows:
                table.add_row(Text(row.attendee.id), *(marks_of[row.attendee.id][step]
                                                       for step in block))
            self.out.print(table, soft_wrap=False)
        if not named:
            entries = [f"{number} {step}" for number, step in enumerate(steps, start=1)]
            for line in _wrapped(["steps:", *entries], width):
                self.out.print(Text(line, style="dim"), soft_wrap=True)
        self.out.print(Text("marks (one per environment: dev, pipeline …): ✓ done  · not done "
                            "yet  ! drift (was done)  ✗ failed  ? needs input; session: the "
                            "attendee's own labtui holds the workspace (recorded state shown)",
                            style="dim"))
        for names, attendees in needs.items():
            self.out.print(Text(f"{', '.join(attendees)}: needs {names} (give them in the "
                                "roster, the --values file or LABTUI_* variables)",
                                style="magenta"))
        for text, attendees in notes.items():
            self.out.print(Text(self.masker.redact(f"{', '.join(attendees)}: {text}")))
        waiting = [(row.attendee.id, unit, message) for row in grid.rows
                   for unit, message in row.waiting(grid.units)]
        if waiting:
            self.out.print(Text("waiting for a person (a review, an approval):", style="bold"))
        for attendee, unit, message in waiting:
            self.out.print(Text(self.masker.redact(f"  {attendee}: {unit.label} — {message}"),
                                style="magenta"))

    def rejected(self, problems: Sequence[str]) -> None:
        """The roster rows that were left out, again after the results (they scroll away)."""
        from rich.text import Text

        rows = "row" if len(problems) == 1 else "rows"
        with self._lock:
            self.rich.print(Text(f"✗ {len(problems)} roster {rows} left out (fix and run "
                                 "again for them):", style="red"))
            for problem in problems:
                self.rich.print(Text(f"  {problem}"))


def _at_text(row: GridRow, grid: Grid) -> Text:
    """The "at" cell: where the attendee is stuck and why ("✗ secrets (dev) failed")."""
    from rich.text import Text

    found = None if row.error else row.stuck(grid.units)
    state = "failed" if row.error else found[1].state.value if found else "done"
    if found is None and not row.error:
        return Text(row.where(grid.units), style="green")
    style = "" if state == "todo" else CELL_STYLES.get(state, "")
    return Text(f"{CELL_SYMBOLS.get(state, '?')} {row.where(grid.units)}", style=style)


def _wrapped(entries: Sequence[str], width: int) -> list[str]:
    """Entries two spaces apart, in lines of at most `width`, never breaking an entry
    ("15 write-test" stays on one line)."""
    lines: list[str] = []
    for entry in entries:
        if lines and len(lines[-1]) + 2 + len(entry) <= width:
            lines[-1] += "  " + entry
        else:
            lines.append(entry)
    return lines


def _blocks(items: Sequence[str], width_of: Callable[[str], int], room: int) -> list[list[str]]:
    """`items` in order, cut into runs whose widths add up to at most `room` (at least one
    item each), so a wide grid is printed as blocks under each other instead of clipped."""
    blocks: list[list[str]] = [[]]
    used = 0
    for item in items:
        needed = width_of(item)
        if blocks[-1] and used + needed > room:
            blocks.append([])
            used = 0
        blocks[-1].append(item)
        used += needed
    return [block for block in blocks if block]


def _counts(summary: FleetSummary) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in summary.attendees:
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
    return counts


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _ago(when: float | None, now: float) -> str:
    if when is None:
        return "never"
    seconds = max(0, int(now - when))
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m ago"

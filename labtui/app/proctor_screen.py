"""The proctor's screen: every attendee of a roster against every step, with reset, provision,
status and cancel over `labtui.proctor.fleet` (the same operations as `labtui proctor …`).

The grid has a row per attendee and a column per unit (a step in an environment). Operations
run in a thread worker; the fleet's events arrive on its pool threads, go into a locked buffer
and reach the grid on a timer, so the screen answers keys while a whole room is provisioned.
Each operation gets a fresh `Fleet` (a cancelled fleet stays cancelled).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from labtui.catalog import Catalog, Unit
from labtui.events import StepFinished, StepStarted
from labtui.masking import Masker
from labtui.proctor.events import AttendeeFinished, AttendeeStarted, FleetEvent, Retrying, UnitEvent
from labtui.proctor.fleet import Fleet, FleetOptions
from labtui.proctor.results import Cell, CellState, FleetSummary, Grid, GridRow
from labtui.proctor.roster import Roster

CELL_MARKS = {"done": ("✓", "green"), "todo": ("·", "dim"), "drift": ("!", "yellow"),
              "failed": ("✗", "bold red"), "needs-input": ("?", "magenta"),
              "running": ("◐", "bold cyan")}
OUTCOME_STYLES = {"done": "green", "unchanged": "dim", "failed": "bold red",
                  "locked": "bold red", "cancelled": "yellow"}

FleetFactory = Callable[[], Fleet]


@dataclass
class AttendeeView:
    """What the grid shows of one attendee: a mark per unit, what it does now, a message."""

    marks: dict[tuple[str, str | None], str]
    now: str = ""
    message: str = ""
    done_units: int = 0
    total_units: int = 0


class FleetBuffer:
    """Fleet events from the pool threads until the screen takes them (log lines dropped:
    the grid shows steps, not their output)."""

    def __init__(self) -> None:
        self._events: list[FleetEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: FleetEvent) -> None:
        if isinstance(event, UnitEvent) and not isinstance(event.event,
                                                           (StepStarted, StepFinished)):
            return
        with self._lock:
            self._events.append(event)

    def drain(self) -> list[FleetEvent]:
        with self._lock:
            events, self._events = self._events, []
        return events


class ProctorScreen(Screen[None]):
    """The attendee-by-step grid and the fleet's operations."""

    DEFAULT_CSS = """
    ProctorScreen { layout: vertical; }
    #proctor-title { height: auto; padding: 0 1; background: $panel; }
    #grid { height: 1fr; }
    #cell-detail { height: auto; max-height: 6; padding: 0 1; border-top: hkey $primary 40%; }
    #grid-legend { height: auto; max-height: 8; padding: 0 1; color: $text-muted; }
    #proctor-status { height: auto; padding: 0 1; color: $text-muted; }
    """

    BINDINGS = [
        Binding("s", "status", "Status"),
        Binding("p", "provision", "Provision through column"),
        Binding("x", "reset", "Reset all"),
        Binding("c", "cancel", "Cancel"),
        Binding("q", "quit_proctor", "Quit"),
    ]

    DRAIN_INTERVAL = 0.1

    def __init__(self, roster: Roster, catalog: Catalog, make_fleet: FleetFactory,
                 masker: Masker) -> None:
        super().__init__()
        self.recorded_shown = False
        """Whether the grid shows what the workspaces last recorded (before any check)."""
        self.roster = roster
        self.catalog = catalog
        self.make_fleet = make_fleet
        self.masker = masker
        self.units: tuple[Unit, ...] = tuple(catalog.units())
        self.views: dict[str, AttendeeView] = {
            attendee.id: AttendeeView({(u.id, u.env): "todo" for u in self.units})
            for attendee in roster}
        self.messages: dict[tuple[str, int], str] = {}
        self.buffer = FleetBuffer()
        self.fleet: Fleet | None = None
        self.action_name = ""
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="proctor-title")
        table: DataTable[Text] = DataTable(id="grid", cursor_type="cell", zebra_stripes=True)
        yield table
        yield Static("", id="cell-detail")
        yield GridLegend(self.units, id="grid-legend")
        yield Static("reading what each workspace last recorded …", id="proctor-status")
        yield Footer()

    def _title(self) -> Text:
        text = Text(" proctor ", style="bold reverse")
        text.append(f"  roster {self.roster.path}  ", style="dim")
        text.append(f"{len(self.roster)} attendees · {len(self.units)} units")
        if self.action_name:
            text.append(f"  · {self.action_name} running", style="bold cyan")
        return text

    def on_mount(self) -> None:
        table = self.query_one("#grid", DataTable)
        table.add_column(Text("attendee"), key="attendee")
        table.add_column(Text("now"), key="now", width=28)
        # As wide as the widest count ("28/28"): a cell never grows after it is added.
        total = len(self.units)
        table.add_column(Text("done"), key="done", width=max(4, len(f"{total}/{total}")))
        for index, _unit in enumerate(self.units):
            # Numbered like `labtui proctor status`: the line below the grid names the unit
            # under the cursor, so 28 columns fit a small terminal.
            table.add_column(Text(str(index + 1), style="dim"), key=f"u{index}")
        for attendee in self.roster:
            table.add_row(*self._row(attendee.id), key=attendee.id)
        self._timer = self.set_interval(self.DRAIN_INTERVAL, self.drain, pause=True)
        for problem in self.roster.rejected:
            self.notify(f"{problem} (left out)", title="roster row left out",
                        severity="error", timeout=30)
        self.read_recorded()

    @work(thread=True, exclusive=True, group="recorded", exit_on_error=False,
          description="read workspaces")
    def read_recorded(self) -> Grid:
        """What the workspaces last recorded, so the grid is not empty until s (read-only:
        nothing is locked or verified)."""
        return self.make_fleet().recorded()

    def _row(self, attendee: str) -> list[Text]:
        view = self.views[attendee]
        done = sum(1 for mark in view.marks.values() if mark == "done")
        count = (Text("?", style="bold red") if view.message and view.now == "not checked"
                 else Text(f"{done}/{len(self.units)}"))
        cells = [Text(attendee, style="bold"), Text(self.masker.redact(view.now)), count]
        for unit in self.units:
            glyph, style = CELL_MARKS.get(view.marks[(unit.id, unit.env)], ("?", ""))
            cells.append(Text(glyph, style=style, justify="center"))
        return cells

    def _refresh_row(self, attendee: str) -> None:
        table = self.query_one("#grid", DataTable)
        for column, value in zip(table.columns, self._row(attendee), strict=True):
            table.update_cell(attendee, column, value)

    # -- operations -----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.fleet is not None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("status", "provision", "reset") and self.busy:
            return None
        if action == "cancel":
            return self.busy
        return True

    def action_status(self) -> None:
        self.start("status")

    def action_provision(self) -> None:
        unit = self.selected_unit()
        if unit is None:
            self.notify("Move the cursor to a step's column first", severity="warning")
            return
        self.start("provision", unit.id)

    def action_reset(self) -> None:
        from labtui.app.confirm import ConfirmScreen

        lines: list[Text | str] = [
            f"Every step of {len(self.roster)} attendees is rolled back, newest first:",
            Text(", ".join(attendee.id for attendee in self.roster), style="bold"),
            "A clean environment is left as it is; a workspace in use is not touched."]
        self.app.push_screen(
            ConfirmScreen("Reset every attendee?", lines, yes="Reset them", no="Keep",
                          danger=True),
            lambda yes: self.start("reset") if yes else None)

    def action_cancel(self) -> None:
        if self.fleet is not None:
            self.fleet.cancel()
            self.query_one("#proctor-status", Static).update(
                "cancelling: running steps stop at their next safe point …")

    def action_quit_proctor(self) -> None:
        if self.fleet is not None:
            self.notify("An operation is running: c cancels it first", severity="warning")
            return
        self.app.exit()

    def selected_unit(self) -> Unit | None:
        column = self.query_one("#grid", DataTable).cursor_column - 3
        return self.units[column] if 0 <= column < len(self.units) else None

    def start(self, action: str, through: str | None = None) -> None:
        if self.fleet is not None:
            return
        self.fleet = self.make_fleet()
        self.action_name = action + (f" through {through}" if through else "")
        self.query_one("#proctor-title", Static).update(self._title())
        self.query_one("#proctor-status", Static).update(f"{self.action_name} …")
        for attendee in self.roster:
            self.views[attendee.id].now = "waiting"
            self._refresh_row(attendee.id)
        if self._timer is not None:
            self._timer.resume()
        self.refresh_bindings()
        self.run_fleet(self.fleet, action, through)

    @work(thread=True, exclusive=True, group="fleet", exit_on_error=False, description="fleet")
    def run_fleet(self, fleet: Fleet, action: str,
                  through: str | None) -> FleetSummary | Grid:
        if action == "status":
            return fleet.status(self.buffer)
        if action == "provision" and through is not None:
            return fleet.provision(through, self.buffer)
        if action == "reset":
            return fleet.reset(self.buffer)
        raise ValueError(f"unknown fleet action {action!r}")

    def drain(self) -> None:
        """Move what the fleet said since the last tick to the grid."""
        touched: set[str] = set()
        for event in self.buffer.drain():
            view = self.views.get(event.attendee)
            if view is None:
                continue
            touched.add(event.attendee)
            if isinstance(event, AttendeeStarted):
                view.now = f"{event.action}: starting"
            elif isinstance(event, UnitEvent):
                inner = event.event
                key = (inner.step, inner.env)
                label = f"{inner.step} ({inner.env})" if inner.env else inner.step
                if isinstance(inner, StepStarted):
                    view.now = f"{inner.action} {label}"
                    if inner.action in ("run", "rollback") and key in view.marks:
                        view.marks[key] = "running"
                elif isinstance(inner, StepFinished) and key in view.marks:
                    view.marks[key] = _mark_after(inner.action, inner.outcome,
                                                  view.marks[key])
                    if inner.outcome in ("failed", "cancelled"):
                        self._remember(event.attendee, key, inner.message)
            elif isinstance(event, Retrying):
                view.now = f"retry {event.attempt} of {event.unit}"
            elif isinstance(event, AttendeeFinished):
                view.now = f"{event.outcome}"
                view.message = event.message
        for attendee in touched:
            self._refresh_row(attendee)

    def _remember(self, attendee: str, key: tuple[str, str | None], message: str) -> None:
        for index, unit in enumerate(self.units):
            if (unit.id, unit.env) == key:
                self.messages[(attendee, index)] = self.masker.redact(message)

    @on(Worker.StateChanged)
    def recorded_read(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "recorded" or self.busy or self.recorded_shown:
            return
        status = self.query_one("#proctor-status", Static)
        if event.state == WorkerState.SUCCESS and isinstance(event.worker.result, Grid):
            self.recorded_shown = True
            self.show_grid(event.worker.result)
            status.update("as last recorded (not checked yet) · s checks everyone · p "
                          "provisions through the selected column · x resets")
            self.show_cell_detail()
        elif event.state == WorkerState.ERROR:
            status.update(self.masker.redact(f"could not read the workspaces: "
                                             f"{event.worker.error} · s checks everyone"))

    @on(Worker.StateChanged)
    def fleet_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "fleet" or event.state not in (
                WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        self.drain()
        if self._timer is not None:
            self._timer.pause()
        action, self.action_name, self.fleet = self.action_name, "", None
        result = event.worker.result
        if isinstance(result, Grid):
            self.show_grid(result)
        if isinstance(result, FleetSummary):
            counts: dict[str, int] = {}
            for attendee in result.attendees:
                counts[attendee.outcome.value] = counts.get(attendee.outcome.value, 0) + 1
            summary = ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
            self.query_one("#proctor-status", Static).update(
                f"{action}: {summary} in {result.duration:.1f}s · s checks everyone")
        elif isinstance(result, Grid):
            self.query_one("#proctor-status", Static).update(
                f"status: checked {len(result.rows)} attendees")
        elif event.state == WorkerState.ERROR:
            self.query_one("#proctor-status", Static).update(
                self.masker.redact(f"{action} stopped: {event.worker.error}"))
        self.query_one("#proctor-title", Static).update(self._title())
        self.refresh_bindings()
        self.show_cell_detail()

    def show_grid(self, grid: Grid) -> None:
        """Put a status grid's verified cells on screen."""
        index_of = {(u.id, u.env): i for i, u in enumerate(self.units)}
        for row in grid.rows:
            view = self.views[row.attendee.id]
            for unit, cell in zip(grid.units, row.cells, strict=True):
                view.marks[(unit.id, unit.env)] = cell.state.value
                position = index_of.get((unit.id, unit.env))
                if position is not None:
                    self._cell_message(row.attendee.id, position, cell)
            view.now = _where(row, grid)
            if not row.live:
                view.now += " (own session)"
            view.message = row.error
            self._refresh_row(row.attendee.id)

    def _cell_message(self, attendee: str, position: int, cell: Cell) -> None:
        key = (attendee, position)
        if cell.state is CellState.DONE:
            self.messages.pop(key, None)
        elif cell.message or cell.needs:
            needs = f" (needs {', '.join(cell.needs)})" if cell.needs else ""
            self.messages[key] = self.masker.redact(cell.message + needs)

    @on(DataTable.CellHighlighted, "#grid")
    def cell_highlighted(self) -> None:
        self.show_cell_detail()

    def show_cell_detail(self) -> None:
        """The highlighted attendee's message, and the highlighted cell's."""
        table = self.query_one("#grid", DataTable)
        row = table.cursor_row
        if not 0 <= row < len(self.roster):
            return
        attendee = self.roster.attendees[row].id
        text = Text(attendee, style="bold")
        view = self.views[attendee]
        if view.message:
            text.append(f"  {self.masker.redact(view.message)}")
        unit = self.selected_unit()
        if unit is not None:
            mark = view.marks[(unit.id, unit.env)]
            text.append(f"\n{unit.label}: {mark}", style=CELL_MARKS.get(mark, ("", ""))[1])
            message = self.messages.get((attendee, table.cursor_column - 3))
            if message:
                text.append(f" — {message}")
        self.query_one("#cell-detail", Static).update(text)


class GridLegend(Widget):
    """What the grid's numbered columns and marks mean: each step with its column numbers
    ("1-3 resource-groups"), then the marks. It wraps between entries, never inside one, so
    nothing is cut at 80 columns and a number stays with its step."""

    DEFAULT_CSS = "GridLegend { height: auto; }"

    def __init__(self, units: tuple[Unit, ...], *, id: str | None = None) -> None:
        super().__init__(id=id)
        spans: dict[str, list[int]] = {}
        for number, unit in enumerate(units, start=1):
            spans.setdefault(unit.id, []).append(number)
        self.entries: list[Text] = []
        for step, numbers in spans.items():
            first, last = numbers[0], numbers[-1]
            entry = Text(f"{first}-{last}" if last != first else str(first), style="bold")
            entry.append(f" {step}")
            self.entries.append(entry)
        self.marks: list[Text] = []
        for state in ("done", "todo", "drift", "failed", "needs-input", "running"):
            glyph, style = CELL_MARKS[state]
            entry = Text(glyph, style=style)
            entry.append(" " + {"todo": "not done", "needs-input": "needs input"}.get(state,
                                                                                    state))
            self.marks.append(entry)

    def lines(self, width: int) -> list[Text]:
        lines: list[Text] = []
        for group in (self.entries, self.marks):
            lines.append(Text())
            for entry in group:
                line = lines[-1]
                if line and line.cell_len + 2 + entry.cell_len > width:
                    lines.append(Text())
                    line = lines[-1]
                if line:
                    line.append("  ")
                line.append_text(entry)
        return lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(width))

    def render(self) -> Text:
        return Text("\n").join(self.lines(max(1, self.content_size.width)))


def _where(row: GridRow, grid: Grid) -> str:
    """The "now" cell after a check: where the attendee is stuck, marked as in the grid
    ("✗ secrets (dev)", "? cli-profiles (dev)"), so it fits the column."""
    found = None if row.error else row.stuck(grid.units)
    if found is None or found[1].state is CellState.TODO:
        return row.where(grid.units)
    unit, cell = found
    return f"{CELL_MARKS[cell.state.value][0]} {unit.label}"


def _mark_after(action: str, outcome: str, before: str) -> str:
    """A cell's mark after one unit action of a provision or reset."""
    if outcome in ("failed", "cancelled"):
        return "failed"
    if action == "rollback":
        return "todo"
    if action in ("run", "verify") and outcome in ("done", "skipped"):
        return "done"
    return before


class ProctorApp(App[int]):
    """`labtui proctor app`: the proctor screen on its own."""

    TITLE = "labtui proctor"
    CSS_PATH = "app.tcss"

    def __init__(self, roster: Roster, catalog: Catalog, options: FleetOptions,
                 masker: Masker) -> None:
        super().__init__()
        self.roster = roster
        self.catalog = catalog
        self.options = options
        self.masker = masker

    def make_fleet(self) -> Fleet:
        return Fleet(self.roster, self.options, catalog=self.catalog, masker=self.masker)

    def on_mount(self) -> None:
        self.push_screen(ProctorScreen(self.roster, self.catalog, self.make_fleet, self.masker))


def run_proctor_app(roster: Roster, catalog: Catalog, options: FleetOptions,
                    masker: Masker) -> int:
    """Open the proctor screen; returns the exit code (0)."""
    app = ProctorApp(roster, catalog, options, masker)
    return int(app.run() or 0)

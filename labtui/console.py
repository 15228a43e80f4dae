"""Headless rendering of engine events: a live status line in a terminal, plain lines in a
pipe, JSON lines with --json. Human text goes to stderr; with --json, stdout is data only."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from labtui.events import (
    ArtifactReady,
    CheckResult,
    Event,
    Heartbeat,
    LogLine,
    PlannedChange,
    Progress,
    StepFinished,
    StepStarted,
)
from labtui.masking import Masker

SYMBOLS = {"done": "✓", "skipped": "✓", "rolled-back": "↺", "clean": "·", "planned": "·",
           "failed": "✗", "drift": "!", "not done": "○", "cancelled": "■"}
STYLES = {"done": "green", "skipped": "green", "rolled-back": "cyan", "clean": "dim",
          "planned": "cyan", "failed": "red", "drift": "yellow", "not done": "yellow",
          "cancelled": "yellow"}
PLAN_SIGNS = {"create": "+", "change": "~", "delete": "-", "keep": "="}
NAMED_OUTCOMES = {"drift", "not done"}
"""Outcomes whose word goes before the message: both are a verify that failed, and the message
(the failed checks) does not say which of the two it is."""
TOTALS_ORDER = ("done", "skipped", "rolled-back", "clean", "planned", "drift", "not done",
                "failed", "cancelled")
NOT_REACHED = "not reached"


@dataclass(frozen=True)
class SummaryRow:
    """One unit in the closing summary; `noteworthy` rows get a line of their own, the others
    are only counted."""

    unit: str
    outcome: str
    message: str
    noteworthy: bool


def summary_totals(rows: Sequence[SummaryRow], not_reached: int) -> str:
    """"12 done, 3 skipped, 1 failed, 12 not reached": outcomes in a fixed order, zeros left out."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.outcome] = counts.get(row.outcome, 0) + 1
    order = [*TOTALS_ORDER, *sorted(set(counts) - set(TOTALS_ORDER))]
    parts = [f"{counts[outcome]} {outcome.replace('-', ' ')}" for outcome in order
             if counts.get(outcome)]
    if not_reached:
        parts.append(f"{not_reached} {NOT_REACHED}")
    return ", ".join(parts)


def _label(event: Event) -> str:
    return f"{event.step} ({event.env})" if event.env else event.step


class JsonLines:
    """Writes each event as one JSON object per line (already masked; masked again here so
    nothing a listener adds can leak)."""

    def __init__(self, masker: Masker, stream: IO[str] | None = None) -> None:
        self.masker = masker
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = self.masker.redact(json.dumps(event.to_json(), default=str))
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


class LogFile:
    """Appends every (masked) log line, with its unit and time, to a file."""

    def __init__(self, path: Path, masker: Masker) -> None:
        self.masker = masker
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        path.chmod(0o600)
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if isinstance(event, LogLine):
            text = f"{event.line}"
        elif isinstance(event, StepStarted):
            text = f"== {event.action} started"
        elif isinstance(event, StepFinished):
            text = f"== {event.action} {event.outcome}: {event.message}"
        else:
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.at))
        with self._lock:
            self._handle.write(self.masker.redact(f"{stamp} [{_label(event)}] {text}") + "\n")
            self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class Console:
    """Human-readable rendering on stderr: a live status line in a terminal (spinner, step,
    environment, elapsed time, progress bar) above the streamed log, or plain lines."""

    def __init__(self, masker: Masker, *, live: bool | None = None,
                 stream: IO[str] | None = None) -> None:
        from rich.console import Console as RichConsole

        self.masker = masker
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.rich = RichConsole(file=self.stream, highlight=False, soft_wrap=not self.live,
                                force_terminal=self.live or None)
        self._progress: Any = None
        self._tasks: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.RLock()

    # -- live status line ------------------------------------------------------------------

    def _start_live(self) -> Any:
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                SpinnerColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._progress = RichProgress(
                SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                TaskProgressColumn(), TimeElapsedColumn(), TextColumn("{task.fields[note]}"),
                console=self.rich, transient=True,
            )
            self._progress.start()
        return self._progress

    def close(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None

    # -- events ----------------------------------------------------------------------------

    def print(self, text: str, style: str | None = None) -> None:
        with self._lock:
            self.rich.print(self.masker.redact(text), style=style, markup=False)

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._render(event)

    def _render(self, event: Event) -> None:
        key = (event.step, event.env)
        if isinstance(event, StepStarted):
            if self.live:
                progress = self._start_live()
                self._tasks[key] = progress.add_task(f"{event.action} {_label(event)}",
                                                     total=None, note="")
            else:
                self.print(f"▶ {event.action} {_label(event)}", "bold")
        elif isinstance(event, LogLine):
            # Units run side by side: a line names its unit unless it is the only one live.
            prefix = "  " if self.live and len(self._tasks) <= 1 else f"  [{_label(event)}] "
            self.print(prefix + event.line, "yellow" if event.level == "warning" else None)
        elif isinstance(event, Progress):
            if self.live and key in self._tasks:
                self._progress.update(self._tasks[key], completed=event.done,
                                      total=event.total or None, note=event.message[:40])
        elif isinstance(event, Heartbeat):
            self.print(f"  … {_label(event)} still working ({event.quiet_seconds:.0f} s "
                       "without output)", "dim")
        elif isinstance(event, CheckResult):
            text = event.name + (f": {event.message}" if event.message else "")
            if event.before_run and not event.ok:
                self.print(f"  ○ to do — {text}", "dim")
            elif event.before_run:
                self.print(f"  ✓ {text}", "dim")
            else:
                self.print(f"  {'✓' if event.ok else '✗'} {text}", "green" if event.ok else "red")
                if not event.ok and event.hint:
                    self.print(f"      hint: {event.hint}", "dim")
        elif isinstance(event, PlannedChange):
            sign = PLAN_SIGNS.get(event.action, "?")
            detail = f" ({event.detail})" if event.detail else ""
            self.print(f"  {sign} {event.action} {event.resource_kind} {event.ref}{detail}")
        elif isinstance(event, ArtifactReady):
            self._show_artifact(event)
        elif isinstance(event, StepFinished):
            if self.live and key in self._tasks:
                self._progress.remove_task(self._tasks.pop(key))
                if not self._tasks:
                    self.close()
            symbol = SYMBOLS.get(event.outcome, "?")
            message = event.message or event.outcome
            if event.outcome in NAMED_OUTCOMES and event.message:
                message = f"{event.outcome} — {event.message}"
            self.print(f"{symbol} {_label(event)}: {message} ({event.duration:.1f}s)",
                       STYLES.get(event.outcome))

    def _show_artifact(self, event: ArtifactReady) -> None:
        """Test and coverage results as tables, training metrics as one line."""
        from labtui import reports

        path = Path(event.path)
        try:
            if event.name == "junit":
                report = reports.TestReport.load(path)
                self.rich.print(reports.render_tests(report))
                for line in reports.failure_lines(report):
                    self.print(line, "red")
            elif event.name == "coverage":
                self.rich.print(reports.render_coverage(reports.CoverageReport.load(path)))
            elif event.name == "metrics":
                metrics = json.loads(path.read_text())
                self.print(f"  MAE {metrics['mae']:,.1f}   R² {metrics['r2']:.4f}   "
                           f"({len(metrics.get('actual', []))} test rows)", "bold")
        except (reports.ReportError, OSError, ValueError, KeyError) as exc:
            self.print(f"  cannot show {event.name} results from {path}: {exc}", "yellow")

    def summary(self, rows: Sequence[SummaryRow], not_reached: Sequence[str] = ()) -> None:
        """The closing summary: the totals, a line per noteworthy unit, and the units a stop
        (a failure, Ctrl-C) left not reached."""
        if not rows and not not_reached:
            return
        self.print(f"summary: {summary_totals(rows, len(not_reached))}", "bold")
        for row in rows:
            if row.noteworthy:
                text = row.outcome
                if row.message:
                    text = (row.message if row.message.startswith(row.outcome)
                            else f"{row.outcome} — {row.message}")
                self.print(f"  {SYMBOLS.get(row.outcome, '?')} {row.unit}: {text}",
                           STYLES.get(row.outcome))
        if not_reached:
            self.print(f"  {NOT_REACHED}: {', '.join(not_reached)}", "dim")

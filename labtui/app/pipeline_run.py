"""A pipeline run as the attendee follows it: its stages, jobs and steps as a tree with each
one's live status, and the log of the one selected below it.

The view is fed by the run's timeline (Azure DevOps' shape: records of type Stage, Job, Task
and Checkpoint, each with a parent, a state and a result) through a `RunSource`; it asks the
source again every `poll` seconds while the run is not finished, so a running stage, a step's
new log lines and an approval that is waiting all show as they happen. `FolderRunSource`
reads a run's records folder as the YAML runner keeps it (`timeline.json`, `logs/N.log`);
`PortRunSource` reads the run a step follows through the target's Pipelines port, and moves
on to a newer run when one is queued (a merge's CI build, a green build's release).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Log, Static, Tree
from textual.widgets.tree import TreeNode

from labtui.targets.base import PipelineRun, Pipelines, TargetError, TimelineRecord

RESULT_MARKS = {"succeeded": ("✓", "green"), "succeededWithIssues": ("!", "yellow"),
                "failed": ("✗", "red"), "canceled": ("■", "yellow"),
                "skipped": ("↷", "dim")}
STATE_MARKS = {"pending": ("○", "dim"), "inProgress": ("◐", "cyan")}


@dataclass(frozen=True)
class RunRecord:
    """One record of a run's timeline (the fields the view shows)."""

    id: str
    type: str
    name: str
    display_name: str
    parent: str = ""
    order: int = 0
    state: str = "pending"
    result: str = ""
    started: float = 0.0
    finished: float = 0.0
    errors: tuple[str, ...] = ()

    @property
    def waiting_for_approval(self) -> bool:
        return self.type == "Checkpoint" and self.state == "inProgress"

    def label(self) -> str:
        """What the tree shows: a mark for the state or result, the name, how long."""
        mark, style = (RESULT_MARKS.get(self.result, ("?", "")) if self.state == "completed"
                       else STATE_MARKS.get(self.state, ("○", "dim")))
        if self.waiting_for_approval:
            mark, style = "⏸", "magenta"
        seconds = (self.finished - self.started) if self.finished and self.started else 0.0
        took = f" [dim]{seconds:.1f}s[/]" if seconds else ""
        waiting = " [magenta]waiting for approval[/]" if self.waiting_for_approval else ""
        name = (self.display_name or self.name).replace("[", r"\[")
        return f"[{style}]{mark}[/] {name}{took}{waiting}"


class RunSource(Protocol):
    """Where the view reads a run from."""

    def timeline(self) -> list[RunRecord]:
        """Every record so far, in timeline order."""

    def log(self, record_id: str) -> list[str]:
        """The record's log lines so far (masked); empty for one without a log."""

    def heading(self) -> str:
        """Which run this is, shown above the tree; "" keeps the view's title. When it
        changes, the view starts over with the new run."""


class FolderRunSource:
    """A run's records folder, as the YAML runner writes it."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._logs: dict[str, str] = {}

    def timeline(self) -> list[RunRecord]:
        path = self.folder / "timeline.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except ValueError:  # caught between two writes: the next poll reads it whole
            return []
        records = []
        for item in raw:
            self._logs[item["id"]] = item.get("log", "")
            records.append(RunRecord(
                item["id"], item["type"], item["name"], item.get("display_name", ""),
                item.get("parent", ""), item.get("order", 0), item.get("state", "pending"),
                item.get("result", ""), item.get("started", 0.0), item.get("finished", 0.0),
                tuple(item.get("errors", ()))))
        return sorted(records, key=lambda r: r.order)

    def heading(self) -> str:
        return ""

    def log(self, record_id: str) -> list[str]:
        name = self._logs.get(record_id, "")
        if not name:
            return []
        try:
            return (self.folder / name).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []


def from_port(record: TimelineRecord) -> RunRecord:
    return RunRecord(record.id, record.type, record.name, record.display_name, record.parent,
                     record.order, record.state, record.result, record.started,
                     record.finished, record.errors)


RunFinder = Callable[[], "tuple[Pipelines, PipelineRun] | None"]
"""Which run to show now, with the port that reads it (None: no run yet)."""


class PortRunSource:
    """The run a step follows, read through the Pipelines port.

    `find` is asked again every `refind` seconds (a merge may have queued a newer run); the
    timeline and logs are read at every poll. A target error reads as nothing new: the view
    keeps what it showed, and the next poll tries again.
    """

    def __init__(self, find: RunFinder, *, refind: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.find = find
        self.refind = refind
        self.clock = clock
        self.found: tuple[Pipelines, PipelineRun] | None = None
        self._asked = float("-inf")

    def _current(self) -> tuple[Pipelines, PipelineRun] | None:
        now = self.clock()
        if now - self._asked >= self.refind:
            self._asked = now
            self.found = self.find()
        return self.found

    def timeline(self) -> list[RunRecord]:
        found = self._current()
        if found is None:
            return []
        pipelines, run = found
        try:
            return [from_port(record) for record in pipelines.timeline(run)]
        except TargetError:
            return []

    def log(self, record_id: str) -> list[str]:
        if self.found is None:
            return []
        pipelines, run = self.found
        try:
            return pipelines.step_log(run, record_id)
        except TargetError:
            return []

    def heading(self) -> str:
        if self.found is None:
            return "No pipeline run yet: the step's run (or a merge into master) starts one"
        run = self.found[1]
        return f"{run.pipeline.name} #{run.id} · {run.branch}"


def finished(records: Sequence[RunRecord]) -> bool:
    stages = [r for r in records if r.type == "Stage"]
    return bool(stages) and all(r.state == "completed" for r in stages)


class PipelineRunView(Vertical):
    """A run's tree of stages, jobs and steps, and the selected one's log.

    Args:
        source: where the run is read from.
        title: what the run is called above the tree (e.g. "Release Pipeline #3").
        poll: seconds between two reads while the run is not finished.
        keep_polling: go on reading after the run finished (a newer run may come: a step's
            page, whose source moves on to it).
    """

    class Waiting(Message):
        """Whether the run waits for an approval now (sent when that changes): the page
        shows its approve / reject actions as what to do next."""

        def __init__(self, waiting: bool) -> None:
            super().__init__()
            self.waiting = waiting

    DEFAULT_CSS = """
    PipelineRunView { height: auto; }
    PipelineRunView .run-title { text-style: bold; }
    PipelineRunView #run-tree { height: auto; max-height: 16; }
    PipelineRunView #run-log { height: 10; border-top: solid $panel; }
    PipelineRunView .run-status { color: $text-muted; }
    """

    def __init__(self, source: RunSource, *, title: str = "Pipeline run", poll: float = 0.5,
                 keep_polling: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source = source
        self.title = title
        self.poll = poll
        self.keep_polling = keep_polling
        self._heading = ""
        self._waiting = False
        self.records: dict[str, RunRecord] = {}
        self.nodes: dict[str, TreeNode[str]] = {}
        self.selected = ""
        self._shown_lines = 0

    def compose(self) -> ComposeResult:
        yield Static(self.title, classes="run-title", id="run-title")
        yield Static("", classes="run-status", id="run-status")
        tree: Tree[str] = Tree("run", id="run-tree")
        tree.show_root = False
        yield tree
        yield Log(id="run-log", highlight=False)

    def on_mount(self) -> None:
        self.refresh_run()
        if self.keep_polling or not finished(list(self.records.values())):
            self._timer = self.set_interval(self.poll, self.refresh_run)

    # --- the timeline ----------------------------------------------------------------------

    def refresh_run(self) -> None:
        """Read the source again: the tree's labels, new nodes, the selected log's new
        lines, and the status line."""
        records = self.source.timeline()
        tree = self.query_one("#run-tree", Tree)
        heading = self.source.heading()
        if heading != self._heading:  # another run: start over with it
            self._heading = heading
            self.query_one("#run-title", Static).update(
                f"{self.title}: {heading}" if heading else self.title)
            tree.clear()
            self.records.clear()
            self.nodes.clear()
            self.selected = ""
            self.query_one("#run-log", Log).clear()
            self._shown_lines = 0
        for record in records:
            node = self.nodes.get(record.id)
            if node is None:
                parent = self.nodes.get(record.parent, tree.root)
                # A job's approval comes before its steps, as it does in time (the runner
                # records it when the job starts, after the steps' pending records).
                ahead = parent.children[0] if record.type == "Checkpoint" and \
                    parent.children else None
                node = parent.add(record.label(), data=record.id, expand=True,
                                  allow_expand=record.type in ("Stage", "Job"), before=ahead)
                self.nodes[record.id] = node
            elif self.records.get(record.id) != record:
                node.set_label(record.label())
            self.records[record.id] = record
        if not self.selected:
            step = next((r for r in records if r.type == "Task"), None)
            if step is not None:
                # Once the tree has laid out its new lines, so the cursor can go there.
                self.selected = step.id
                self.call_after_refresh(self.select, step.id)
        else:
            self._show_log(self.selected, again=False)
        self._status(records)
        if finished(records) and hasattr(self, "_timer") and not self.keep_polling:
            self._timer.stop()

    def _status(self, records: Sequence[RunRecord]) -> None:
        waiting = [r for r in records if r.waiting_for_approval]
        if bool(waiting) != self._waiting:
            self._waiting = bool(waiting)
            self.post_message(self.Waiting(self._waiting))
        stages = [r for r in records if r.type == "Stage"]
        if waiting:
            parent = self.records.get(self.records[waiting[0].id].parent)
            stage = self.records.get(parent.parent) if parent else None
            text = (f"[magenta]{(stage.display_name or stage.name) if stage else 'a stage'} "
                    f"waits for approval[/]: approve or reject it with this step's actions")
        elif finished(records):
            failed = [r for r in stages if r.result == "failed"]
            text = ("[red]failed[/] at " + ", ".join(r.display_name or r.name for r in failed)
                    if failed else "[green]finished[/]")
        elif any(r.state == "inProgress" for r in stages):
            running = next(r for r in stages if r.state == "inProgress")
            text = f"running: {running.display_name or running.name}"
        elif not records and self._heading.startswith("No pipeline run"):
            text = ""
        else:
            text = "queued"
        self.query_one("#run-status", Static).update(text)

    # --- the log ---------------------------------------------------------------------------

    def select(self, record_id: str) -> None:
        """Show the record's log (a step's own; a stage's or job's errors and its steps')."""
        node = self.nodes.get(record_id)
        if node is not None:
            tree = self.query_one("#run-tree", Tree)
            tree.move_cursor(node)
        self._show_log(record_id, again=True)

    def _lines(self, record_id: str) -> list[str]:
        record = self.records.get(record_id)
        if record is None:
            return []
        lines = [f"##[error]{error}" for error in record.errors]
        if record.type == "Task":
            return self.source.log(record_id) + lines
        if record.waiting_for_approval:
            return ["Waiting for an approval before this job deploys.", *lines]
        return lines or [f"{record.type} {record.display_name or record.name}: "
                         f"{record.result or record.state}"]

    def _show_log(self, record_id: str, *, again: bool) -> None:
        log = self.query_one("#run-log", Log)
        lines = self._lines(record_id)
        if again or record_id != self.selected or len(lines) < self._shown_lines:
            log.clear()
            self._shown_lines = 0
        self.selected = record_id
        new = lines[self._shown_lines:]
        if new:
            log.write_lines(new)  # one batch: a Log starts a worker per write call
            self._shown_lines = len(lines)

    @on(Tree.NodeHighlighted, "#run-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        if event.node.data and event.node.data != self.selected:
            self._show_log(event.node.data, again=True)

"""A pipeline run's stages, jobs and steps as a few lines of text: what a headless run prints
once the run has finished (or stopped at an approval), so the shape of the run and where it
failed read at a glance without the whole log."""

from __future__ import annotations

from collections.abc import Sequence

from labtui.durations import duration_text
from labtui.targets.base import PipelineRun, TimelineRecord

MARKS = {"succeeded": "✓", "succeededWithIssues": "!", "failed": "✗", "canceled": "■",
         "skipped": "↷"}
LEVEL = {"Stage": 0, "Job": 1, "Task": 2, "Checkpoint": 2}


def _mark(record: TimelineRecord) -> str:
    if record.state == "completed":
        return MARKS.get(record.result, "?")
    if record.type == "Checkpoint" and record.state == "inProgress":
        return "⏸"
    return "◐" if record.state == "inProgress" else "○"


def _took(record: TimelineRecord) -> str:
    if not (record.started and record.finished):
        return ""
    seconds = record.finished - record.started
    return f" {seconds:.1f}s" if seconds < 60 else f" {duration_text(round(seconds))}"


def _walk(records: Sequence[TimelineRecord]) -> list[TimelineRecord]:
    """Parents before their children; a job's approval before its steps, as in time."""
    children: dict[str, list[TimelineRecord]] = {}
    for record in sorted(records, key=lambda r: (r.type != "Checkpoint", r.order)):
        children.setdefault(record.parent, []).append(record)
    ordered: list[TimelineRecord] = []

    def visit(parent: str) -> None:
        for record in children.get(parent, []):
            ordered.append(record)
            visit(record.id)

    visit("")
    return ordered


def run_tree(run: PipelineRun, records: Sequence[TimelineRecord]) -> list[str]:
    """One line for the run, then one for each stage, job and step, indented by level: a mark
    for its result (✓ ✗ ↷ …, ⏸ for an approval it waits on), its name and how long it took;
    a failed one's first error after it. A stage's only job, named like the stage or not, is
    still shown: it is where its steps ran."""
    lines = [f"run {run.id} of {run.pipeline.name} on {run.branch}: {run.state}"
             + (f", waiting for approval on {run.waiting_for}" if run.waiting_for else "")]
    for record in _walk(records):
        name = record.display_name or record.name
        line = f"{'  ' * (LEVEL.get(record.type, 2) + 1)}{_mark(record)} {name}{_took(record)}"
        if record.result == "skipped":
            line += " (skipped)"
        elif record.type == "Checkpoint" and record.state == "inProgress":
            line += " (waiting)"
        if record.result == "failed" and record.errors:
            line += f" — {record.errors[0]}"
        lines.append(line)
    return lines

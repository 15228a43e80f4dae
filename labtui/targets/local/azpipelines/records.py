"""What a run keeps, in the folder its host gives: the masked log (whole, and one file per
step), the timeline (stages, jobs and steps with their state, result, times and errors) as
JSON, the published test runs and coverage, and the artifacts. A listener hears every change
as it happens."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

RECORD_TYPES = ("Stage", "Job", "Task", "Checkpoint")


@dataclass(frozen=True)
class TimelineRecord:
    """A stage, job, step (`Task`) or approval (`Checkpoint`) of a run, as Azure's timeline
    shows it. `state` is pending, inProgress or completed; `result`, once completed, one of
    succeeded, succeededWithIssues, failed, canceled, skipped."""

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
    warnings: tuple[str, ...] = ()
    log: str = ""

    @classmethod
    def from_saved(cls, item: Mapping[str, Any]) -> TimelineRecord:
        """A record as `timeline.json` keeps it."""
        return cls(str(item["id"]), str(item["type"]), str(item["name"]),
                   str(item.get("display_name", "")), str(item.get("parent", "")),
                   int(item.get("order", 0)), str(item.get("state", "pending")),
                   str(item.get("result", "")), float(item.get("started", 0.0)),
                   float(item.get("finished", 0.0)),
                   tuple(str(e) for e in item.get("errors", ())),
                   tuple(str(w) for w in item.get("warnings", ())), str(item.get("log", "")))


@dataclass(frozen=True)
class LogLine:
    """One masked line written to a step's log."""

    record: str
    text: str


Event = TimelineRecord | LogLine
Listener = Callable[[Event], None]


@dataclass
class RunRecords:
    """The records of one run in `folder` (created 0700; files 0600)."""

    folder: Path
    listener: Listener | None = None
    records: dict[str, TimelineRecord] = field(default_factory=dict)
    tests: list[dict[str, object]] = field(default_factory=list)
    coverage: list[dict[str, object]] = field(default_factory=list)
    artifacts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.lock = threading.RLock()
        for sub in ("", "logs", "artifacts"):
            (self.folder / sub).mkdir(mode=0o700, parents=True, exist_ok=True)

    # --- files ---------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.folder / "log.txt"

    def write_json(self, name: str, value: object) -> None:
        path = self.folder / name
        partial = path.with_suffix(".partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=2)
        partial.replace(path)

    def append(self, path: Path, line: str) -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def tell(self, event: Event) -> None:
        if self.listener is not None:
            self.listener(event)

    # --- the timeline --------------------------------------------------------------------

    def add(self, record: TimelineRecord) -> TimelineRecord:
        with self.lock:
            record = replace(record, order=len(self.records), log=f"logs/{len(self.records)}.log"
                             if record.type == "Task" else "")
            self.records[record.id] = record
            self.save_timeline()
        self.tell(record)
        return record

    def update(self, record_id: str, **changes: object) -> TimelineRecord:
        with self.lock:
            record = replace(self.records[record_id], **changes)  # type: ignore[arg-type]
            self.records[record_id] = record
            self.save_timeline()
        self.tell(record)
        return record

    def start(self, record_id: str) -> TimelineRecord:
        return self.update(record_id, state="inProgress", started=time.time())

    def finish(self, record_id: str, result: str, *, errors: tuple[str, ...] = (),
               warnings: tuple[str, ...] = ()) -> TimelineRecord:
        record = self.records[record_id]
        return self.update(record_id, state="completed", result=result,
                           started=record.started or time.time(), finished=time.time(),
                           errors=record.errors + errors, warnings=record.warnings + warnings)

    def save_timeline(self) -> None:
        self.write_json("timeline.json", [asdict(record) for record in self.records.values()])

    def children(self, parent: str) -> list[TimelineRecord]:
        return [record for record in self.records.values() if record.parent == parent]

    # --- logs and published results ------------------------------------------------------

    def log(self, record_id: str, line: str) -> None:
        """Write an already masked line to the whole log and to the step's own log."""
        with self.lock:
            self.append(self.log_path, line)
            record = self.records.get(record_id)
            if record is not None and record.log:
                self.append(self.folder / record.log, line)
        self.tell(LogLine(record_id, line))

    def step_log(self, record_id: str) -> str:
        record = self.records[record_id]
        path = self.folder / record.log
        return path.read_text(encoding="utf-8") if record.log and path.exists() else ""

    def publish_tests(self, run: dict[str, object]) -> None:
        with self.lock:
            self.tests.append(run)
            self.write_json("tests.json", self.tests)

    def publish_coverage(self, summary: dict[str, object]) -> None:
        with self.lock:
            self.coverage.append(summary)
            self.write_json("coverage.json", self.coverage)

    def publish_artifact(self, name: str, source: Path) -> int:
        """Copy `source` (a file or folder) to artifacts/<name>; returns its size in bytes.

        Raises:
            FileExistsError: an artifact of that name exists in this run.
            FileNotFoundError: `source` does not exist.
        """
        with self.lock:
            if name in self.artifacts:
                raise FileExistsError(name)
            target = self.folder / "artifacts" / name
            if source.is_dir():
                shutil.copytree(source, target, symlinks=True)
                size = sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
            elif source.is_file():
                target.mkdir(mode=0o700)
                shutil.copy2(source, target / source.name)
                size = source.stat().st_size
            else:
                raise FileNotFoundError(str(source))
            self.artifacts[name] = size
            self.write_json("artifacts.json", self.artifacts)
            return size

    def summary(self, result: str) -> None:
        self.write_json("run.json", {"result": result, "tests": len(self.tests),
                                     "coverage": len(self.coverage),
                                     "artifacts": sorted(self.artifacts)})

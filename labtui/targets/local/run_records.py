"""What a local pipeline run published, read back from its records folder: its log, its
timeline and each step's log, its test results, its coverage and its artifacts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Literal, cast

from labtui.targets.errors import NotFound
from labtui.targets.local.pipeline_rows import LocalPipelineRows
from labtui.targets.local.sandbox import with_latency
from labtui.targets.ports.pipelines import (
    Artifact,
    Coverage,
    PipelineRun,
    PublishedTest,
    TimelineRecord,
    TimelineState,
    TimelineType,
)

OUTCOMES: dict[str, Literal["passed", "failed", "skipped"]] = {
    "passed": "passed", "failed": "failed", "skipped": "skipped"}


@with_latency
class LocalRunRecords(LocalPipelineRows):
    """The records of the runs: what `Pipelines` offers of a run once it has published."""

    def _records(self, run: PipelineRun, name: str) -> object:
        self._run_row(run.id)
        path = self.folder(run) / name
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def logs(self, run: PipelineRun) -> list[str]:
        self._run_row(run.id)
        path = self.folder(run) / "log.txt"
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    def _timeline(self, run: PipelineRun) -> list[dict[str, object]]:
        try:
            found = self._records(run, "timeline.json")
        except ValueError:  # read between two writes of the runner: as it was a moment ago
            return []
        return cast(list[dict[str, object]], found) if isinstance(found, list) else []

    def timeline(self, run: PipelineRun) -> list[TimelineRecord]:
        records = []
        for item in self._timeline(run):
            records.append(TimelineRecord(
                str(item["id"]), cast(TimelineType, item["type"]), str(item["name"]),
                str(item.get("display_name", "")), str(item.get("parent", "")),
                int(cast(int, item.get("order", 0))),
                cast(TimelineState, item.get("state", "pending")), str(item.get("result", "")),
                float(cast(float, item.get("started", 0.0))),
                float(cast(float, item.get("finished", 0.0))),
                tuple(str(e) for e in cast(list[object], item.get("errors", []))),
                bool(item.get("log"))))
        return sorted(records, key=lambda record: record.order)

    def step_log(self, run: PipelineRun, record_id: str) -> list[str]:
        item = next((i for i in self._timeline(run) if i.get("id") == record_id), None)
        if item is None:
            raise NotFound(f"pipeline run {run.id} of {run.pipeline.name} has no timeline "
                           f"record {record_id!r}")
        path = self.folder(run) / str(item.get("log") or "")
        if not item.get("log") or not path.is_file():
            return []
        return path.read_text(encoding="utf-8", errors="replace").splitlines()

    def test_results(self, run: PipelineRun) -> list[PublishedTest]:
        found = self._records(run, "tests.json") or []
        tests = []
        for test_run in cast(list[dict[str, object]], found):
            for case in cast(list[dict[str, object]], test_run.get("cases", [])):
                name = str(case.get("name", ""))
                classname = str(case.get("classname", ""))
                outcome = OUTCOMES.get(str(case.get("outcome", "")), "failed")
                tests.append(PublishedTest(
                    f"{classname}.{name}" if classname else name, outcome,
                    float(cast(float, case.get("duration", 0.0))), str(case.get("message", ""))))
        return tests

    def coverage(self, run: PipelineRun) -> Coverage | None:
        found = cast(list[dict[str, object]], self._records(run, "coverage.json") or [])
        if not found:
            return None
        first = found[0]
        files = cast(dict[str, float], first.get("files", {}))
        return Coverage(float(cast(float, first.get("line_rate", 0.0))), dict(files))

    def artifacts(self, run: PipelineRun) -> list[Artifact]:
        found = cast(dict[str, int], self._records(run, "artifacts.json") or {})
        folder = self.folder(run) / "artifacts"
        return [Artifact(name, int(size), (folder / name).as_uri())
                for name, size in sorted(found.items())]

    def download_artifact(self, run: PipelineRun, name: str, destination: str) -> None:
        if name not in {artifact.name for artifact in self.artifacts(run)}:
            raise NotFound(f"pipeline run {run.id} published no artifact {name!r}")
        shutil.copytree(self.folder(run) / "artifacts" / name, Path(destination),
                        dirs_exist_ok=True)

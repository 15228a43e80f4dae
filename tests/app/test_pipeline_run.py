"""The pipeline run view: a real run of a two-stage YAML by the runner, its stages, jobs and
steps shown live as a tree, the selected step's log beside it, Production waiting for its
approval and going on once given; pictures at 80x24 and 200x50."""

from __future__ import annotations

import json
import re
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Button, Log, Static, Tree

from labtui.app.pipeline_run import FolderRunSource, PipelineRunView
from labtui.targets.local.azpipelines import ApprovalGate, Runner, RunResult, load_text
from tests.app.conftest import AppFactory

RELEASE = textwrap.dedent("""
    stages:
    - stage: QA
      displayName: Deploy to QA
      jobs:
      - deployment: DeployQA
        displayName: Serve the image in QA
        environment: qa
        strategy:
          runOnce:
            deploy:
              steps:
              - script: echo "tagged inference:7 as inference:qa"
                displayName: Tag and start the QA container
              - script: echo "smoke test passed"
                displayName: Smoke test the QA endpoint
    - stage: Production
      displayName: Deploy to Production
      jobs:
      - deployment: DeployProduction
        displayName: Serve the image in Production
        environment: production
        strategy:
          runOnce:
            deploy:
              steps:
              - script: echo "tagged inference:7 as inference:production"
                displayName: Tag and start the Production container
    """)
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((200, 50), id="200x50")]


class RunApp(App[None]):
    def __init__(self, folder: Path, poll: float = 0.05) -> None:
        super().__init__()
        self.folder = folder
        self.poll = poll

    def compose(self) -> ComposeResult:
        yield PipelineRunView(FolderRunSource(self.folder), title="Release Pipeline #12",
                              poll=self.poll, id="run")


def start(tmp_path: Path, gate: ApprovalGate) -> tuple[Path, threading.Thread, list[RunResult]]:
    sources = tmp_path / "repo"
    sources.mkdir()
    folder = tmp_path / "run"
    runner = Runner(load_text(RELEASE, "release-pipeline.yml"), sources=sources, folder=folder,
                    gate=gate, build_id=12)
    done: list[RunResult] = []
    thread = threading.Thread(target=lambda: done.append(runner.run()))
    thread.start()
    return folder, thread, done


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    for _ in range(400):
        await pilot.pause(0.05)
        if condition():
            return
    raise AssertionError(f"never: {what}")


def labels(app: App[None]) -> list[str]:
    tree = app.query_one("#run-tree", Tree)
    found: list[str] = []

    def walk(node: object) -> None:
        for child in node.children:  # type: ignore[attr-defined]
            found.append(child.label.plain)
            walk(child)

    walk(tree.root)
    return found


def status(app: App[None]) -> str:
    return str(app.query_one("#run-status", Static).render())


async def test_the_tree_follows_the_run_through_its_approval(tmp_path: Path) -> None:
    gate = ApprovalGate({"production": 60})
    folder, thread, done = start(tmp_path, gate)
    app = RunApp(folder)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: "waits for approval" in status(app),
                        "Production waits for approval")
            shown = labels(app)
            assert shown[0].startswith("✓ Deploy to QA")
            assert any(s.startswith("✓ Smoke test the QA endpoint") for s in shown)
            assert any(s.startswith("⏸ Approval for environment 'production'")
                       and s.endswith("waiting for approval") for s in shown), shown
            assert any(s.startswith("○ Tag and start the Production container") for s in shown)
            assert "Deploy to Production waits for approval" in status(app)
            log = app.query_one("#run-log", Log)
            assert "tagged inference:7 as inference:qa" in "\n".join(log.lines), \
                "the first step's log shows at once"

            gate.approve("production", "rm")
            await until(pilot, lambda: status(app) == "finished", "the run finishes")
            shown = labels(app)
            assert any(s.startswith("✓ Tag and start the Production container") for s in shown)
            assert any(s.startswith("✓ Approval for environment 'production'") for s in shown)

            view = app.query_one(PipelineRunView)
            production_step = next(r.id for r in view.records.values()
                                   if r.display_name.startswith("Tag and start the Prod"))
            view.select(production_step)
            await pilot.pause()
            assert "tagged inference:7 as inference:production" in "\n".join(log.lines)
            assert "tagged inference:7 as inference:qa" not in "\n".join(log.lines)
    finally:
        gate.reject("production", "test", "stopped")
        thread.join(30)
    assert done and done[0].result == "succeeded"


async def test_a_rejected_approval_shows_where_and_why(tmp_path: Path) -> None:
    gate = ApprovalGate({"production": 60})
    folder, thread, done = start(tmp_path, gate)
    app = RunApp(folder)
    assert not done
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: "waits for approval" in status(app), "waiting")
        gate.reject("production", "rm", "QA found a regression")
        await until(pilot, lambda: status(app).startswith("failed"), "the run fails")
        assert status(app) == "failed at Deploy to Production"
        view = app.query_one(PipelineRunView)
        checkpoint = next(r.id for r in view.records.values() if r.type == "Checkpoint"
                          and r.parent.startswith("Production"))
        view.select(checkpoint)
        await pilot.pause()
        shown = "\n".join(app.query_one("#run-log", Log).lines)
        assert "rejected by rm: QA found a regression" in shown
    thread.join(30)
    assert done and done[0].result == "failed"


def finished_run(tmp_path: Path) -> Path:
    """A run that finished for real, its times and temporary paths made constant so that
    its picture does not change from one test run to the next."""
    gate = ApprovalGate({"production": 60})
    folder, thread, done = start(tmp_path, gate)
    gate.approve("production", "rm")
    thread.join(60)
    assert done and done[0].ok
    timeline = json.loads((folder / "timeline.json").read_text())
    for record in timeline:
        record["started"] = 100.0 if record["started"] else 0.0
        record["finished"] = 101.5 if record["finished"] else 0.0
    (folder / "timeline.json").write_text(json.dumps(timeline))
    for log in (folder / "logs").iterdir():
        text = log.read_text().replace(str(tmp_path), "/work")
        log.write_text(re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}\.sh", "script.sh", text))
    return folder


@pytest.mark.parametrize("size", SIZES)
def test_a_finished_run(tmp_path: Path, snap_compare: Callable[..., bool],
                        size: tuple[int, int]) -> None:
    app = RunApp(finished_run(tmp_path))
    assert snap_compare(app, terminal_size=size)


async def test_the_release_offers_its_approval_on_its_page_and_in_the_palette(
        make_app: AppFactory) -> None:
    from labtui.catalog import Catalog
    from tests.app.test_app import ready
    from tests.app.test_palette_and_manual import palette_hits

    app = make_app(focus="release-pipeline", catalog=Catalog.discover())
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        detail = app.detail
        assert detail is not None
        buttons = [str(b.label) for b in detail.query(Button)]
        assert "Approve" in buttons and "Reject" in buttons, buttons
        hits = await palette_hits(pilot, "approve")
        assert any(hit.startswith("Approve (release-pipeline") for hit in hits), hits

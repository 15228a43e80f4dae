"""A deployment job asks its environment's gate first: approved, it runs; rejected or timed
out, it fails with that reason and the stages after it do not run."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from labtui.targets.local.azpipelines import (
    ApprovalGate,
    GateDecision,
    GateRequest,
    Runner,
    RunResult,
    TimelineRecord,
    load_text,
)
from labtui.targets.local.azpipelines.records import LogLine
from tests.targets.local.azpipelines.conftest import RunPipeline, results

RELEASE = """
stages:
- stage: QA
  jobs:
  - deployment: DeployQA
    environment: qa
    strategy: {runOnce: {deploy: {steps: [{script: echo "serving QA"}]}}}
- stage: Production
  jobs:
  - deployment: DeployProduction
    environment: {name: production}
    strategy:
      runOnce:
        deploy:
          steps:
          - script: echo "serving production in $(Environment.Name)"
- stage: Announce
  jobs: [{job: Tell, steps: [{script: echo released}]}]
"""


def run_with(tmp_path: Path, sources: Path, gate: ApprovalGate,
             decide: tuple[str, str, str] | None) -> tuple[RunResult, float]:
    """Run RELEASE; when the production approval starts waiting, `decide` it from another
    thread (verb, by, reason) — as a reviewer would."""
    def listen(event: TimelineRecord | LogLine) -> None:
        if decide and isinstance(event, TimelineRecord) and event.type == "Checkpoint" \
                and event.state == "inProgress" and "production" in event.display_name:
            verb, by, reason = decide
            threading.Thread(target=getattr(gate, verb), args=("production", by, reason)
                             ).start()

    started = time.monotonic()
    run = Runner(load_text(RELEASE), sources=sources, folder=tmp_path / "run", gate=gate,
                 listener=listen).run()
    return run, time.monotonic() - started


def test_an_approved_deployment_runs(tmp_path: Path, sources: Path) -> None:
    gate = ApprovalGate({"production": 30})
    run, _ = run_with(tmp_path, sources, gate, ("approve", "ada", "looks good"))
    assert run.result == "succeeded"
    records = run.records
    check = records.records["Production.DeployProduction.checkpoint"]
    assert check.result == "succeeded"
    assert "Approved for environment 'production' by ada" in records.log_path.read_text()
    assert "serving production in production" in records.step_log(
        "Production.DeployProduction.1")
    assert records.records["QA.DeployQA.checkpoint"].result == "succeeded"  # no checks on qa
    assert gate.pending() == []


def test_a_rejected_deployment_fails_with_the_reason(tmp_path: Path, sources: Path) -> None:
    gate = ApprovalGate({"production": 30})
    run, _ = run_with(tmp_path, sources, gate, ("reject", "grace", "the smoke test is flaky"))
    assert run.result == "failed"
    job = run.records.records["Production.DeployProduction"]
    assert job.result == "failed"
    assert job.errors == ("The approval for environment 'production' was rejected by grace: "
                          "the smoke test is flaky",)
    assert {k: v for k, v in results(run).items() if not k.startswith("QA")} == {
        "Production": "failed", "Production.DeployProduction": "failed",
        "Production.DeployProduction.checkpoint": "failed",
        "Production.DeployProduction.1": "skipped",
        "Announce": "skipped", "Announce.Tell": "skipped", "Announce.Tell.1": "skipped"}


def test_an_approval_nobody_gives_times_out(tmp_path: Path, sources: Path) -> None:
    run, took = run_with(tmp_path, sources, ApprovalGate({"production": 0.2}), None)
    assert took < 5
    job = run.records.records["Production.DeployProduction"]
    assert job.errors == ("The approval for environment 'production' timed out after "
                          "0.2 seconds",)
    assert run.result == "failed"


def test_a_cancel_while_waiting_ends_the_wait(tmp_path: Path, sources: Path) -> None:
    cancel = threading.Event()
    gate = ApprovalGate({"production": 60})

    def listen(event: TimelineRecord | LogLine) -> None:
        if isinstance(event, TimelineRecord) and event.type == "Checkpoint" \
                and event.state == "inProgress" and "production" in event.display_name:
            cancel.set()

    started = time.monotonic()
    run = Runner(load_text(RELEASE), sources=sources, folder=tmp_path / "run", gate=gate,
                 listener=listen, cancel=cancel).run()
    assert time.monotonic() - started < 5
    assert run.result == "canceled"
    assert run.records.records["Production.DeployProduction"].result == "canceled"


def test_a_host_gate_sees_the_request(tmp_path: Path, sources: Path) -> None:
    asked: list[GateRequest] = []

    def gate(request: GateRequest) -> GateDecision:
        asked.append(request)
        return GateDecision("approved", by="proctor")

    run = Runner(load_text(RELEASE), sources=sources, folder=tmp_path / "run", gate=gate,
                 build_id=9).run()
    assert run.ok
    assert [(r.environment, r.stage, r.job, r.run_id) for r in asked] == [
        ("qa", "QA", "DeployQA", 9), ("production", "Production", "DeployProduction", 9)]


def test_without_a_gate_deployments_run(run_yaml: RunPipeline) -> None:
    assert run_yaml(RELEASE).result == "succeeded"


def test_a_run_parked_at_its_approval_resumes_from_the_stages_it_finished(
        tmp_path: Path, sources: Path) -> None:
    from labtui.targets.local.azpipelines import Parked

    def park(request: GateRequest) -> GateDecision:
        if request.environment == "production":
            raise Parked("the agent's process ends")
        return GateDecision("approved")

    folder = tmp_path / "run"
    try:
        Runner(load_text(RELEASE), sources=sources, folder=folder, gate=park).run()
    except Parked:
        pass
    else:
        raise AssertionError("the run was not parked")
    left = json.loads((folder / "timeline.json").read_text())
    states = {item["id"]: (item["state"], item["result"]) for item in left}
    assert states["QA"] == ("completed", "succeeded")
    assert states["Production"] == ("inProgress", ""), "parked where it waits"
    assert states["Production.DeployProduction.checkpoint"] == ("inProgress", "")

    resumed = Runner(load_text(RELEASE), sources=sources, folder=folder,
                     gate=lambda request: GateDecision("approved", "ada"),
                     resume=[TimelineRecord.from_saved(item) for item in left]).run()
    assert resumed.result == "succeeded"
    assert resumed.stages == {"QA": "succeeded", "Production": "succeeded",
                              "Announce": "succeeded"}
    log = resumed.records.log_path.read_text()
    assert log.count("serving QA") == 1, "the finished stage did not run again"
    assert "serving production in production" in log and "released" in log
    assert resumed.records.records["QA.DeployQA.1"].finished == next(
        item["finished"] for item in left if item["id"] == "QA.DeployQA.1"), \
        "its records are kept as they ended"

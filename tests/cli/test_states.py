"""The engine's words for a unit's state, as `--verify`, `--json` and `labtui list` show them:
"not done" (never done, or rolled back) is not "drift" (was done, no longer verifies), and a run
that was stopped or killed is "interrupted" (or "running" while its process lives)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import LabtuiRunner


def listed(labtui: LabtuiRunner) -> dict[tuple[str, str | None], str]:
    ran = labtui("list", "--json")
    assert ran.code == 0, ran.output
    return {(row["step"], row["env"]): row["status"] for row in map(json.loads,
                                                                     ran.stdout.splitlines())}


def finished(stdout: str) -> list[dict[str, object]]:
    return [event for event in map(json.loads, stdout.splitlines())
            if event["event"] == "step_finished"]


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_verify_says_not_done_for_a_step_never_done_and_drift_for_one_that_was(
        labtui: LabtuiRunner, tmp_path: Path) -> None:
    files = tmp_path / "files"
    values = ["--set", f"demo-dir={files}", "--set", "demo-count=2"]

    fresh = labtui("--step", "demo-files", "--headless", "--verify", *values)
    assert fresh.code == 3, fresh.output
    assert "demo-files: not done — files: missing file-000.txt, file-001.txt" in fresh.stderr
    assert "drift" not in fresh.output
    as_json = labtui("--step", "demo-files", "--headless", "--verify", "--json")
    assert [e["outcome"] for e in finished(as_json.stdout)] == ["not done"]
    assert listed(labtui)[("demo-files", None)] == "not done"

    assert labtui("--step", "demo-files", "--headless").code == 0
    (files / "file-001.txt").unlink()
    drifted = labtui("--step", "demo-files", "--headless", "--verify", "--json")
    assert drifted.code == 3, drifted.output
    assert [e["outcome"] for e in finished(drifted.stdout)] == ["drift"]
    shown = labtui("--step", "demo-files", "--headless", "--verify")
    assert "demo-files: drift — files: missing file-001.txt" in shown.stderr
    assert listed(labtui)[("demo-files", None)] == "drift"

    assert labtui("--step", "demo-files", "--headless", "--rollback").code == 0
    rolled = labtui("--step", "demo-files", "--headless", "--verify")
    assert rolled.code == 3
    assert "demo-files: not done" in rolled.stderr and "drift" not in rolled.output
    table = labtui("list")
    line = next(line for line in table.stdout.splitlines() if "demo-files" in line)
    assert "not done" in line


def test_a_run_is_listed_running_while_it_runs_and_interrupted_once_killed(
        labtui: LabtuiRunner, tmp_path: Path) -> None:
    files = tmp_path / "killed"
    victim = labtui.popen("--step", "demo-files", "--headless", "--set", f"demo-dir={files}",
                          "--set", "demo-count=400", "--set", "demo-delay=0.02")
    try:
        wait_for(lambda: files.exists() and len(list(files.iterdir())) >= 3)
        assert listed(labtui)[("demo-files", None)] == "running"
    finally:
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=30)
    assert listed(labtui)[("demo-files", None)] == "interrupted"
    line = next(line for line in labtui("list").stdout.splitlines() if "demo-files" in line)
    assert "interrupted" in line and "not done" not in line
    still = labtui("--step", "demo-files", "--headless", "--verify")
    assert still.code == 3 and listed(labtui)[("demo-files", None)] == "interrupted"
    # A verify that finds it done since (here: with the files it made counted) says so.
    made = str(len(list(files.iterdir())))
    assert labtui("--step", "demo-files", "--headless", "--verify",
                  "--set", f"demo-count={made}").code == 0
    assert listed(labtui)[("demo-files", None)] == "done"
    assert labtui("--step", "demo-files", "--headless", "--rollback").code == 0
    assert listed(labtui)[("demo-files", None)] == "not done"


def test_a_run_stopped_with_ctrl_c_is_listed_interrupted(labtui: LabtuiRunner,
                                                         tmp_path: Path) -> None:
    files = tmp_path / "stopped"
    run = labtui.popen("--step", "demo-files", "--headless", "--set", f"demo-dir={files}",
                       "--set", "demo-count=400", "--set", "demo-delay=0.02")
    wait_for(lambda: files.exists() and len(list(files.iterdir())) >= 3)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert listed(labtui)[("demo-files", None)] == "interrupted"

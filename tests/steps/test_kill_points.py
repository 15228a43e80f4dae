"""A crash at any point of the Infrastructure section, then `--all --rollback`: nothing is left.

The run is SIGKILLed once the journal holds k entries, for eight values of k spread over the
section (resource groups, the ML workspace, the data lake and its upload, the vault, Databricks,
the profiles, the service principal, the scope, the secrets); then a rollback must finish and
leave the sandbox and the Databricks profile file as they were before the lab.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import LAB_DATA, LabtuiRunner, labtui_env, require_lab_data
from tests.sandbox_snapshot import snapshot

ANSWERS = f"""\
prefix = "kill7"
tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"
subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
data-file = "{LAB_DATA}"
"""
KILL_POINTS = (1, 3, 6, 10, 15, 20, 26, 32)
"""Journal entries recorded before the kill: from the first resource group to the secrets."""


def journal_size(state: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=1)
        try:
            return int(db.execute("SELECT count(*) FROM journal").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("entries", KILL_POINTS)
def test_a_kill_at_any_point_then_rollback_leaves_nothing(tmp_path: Path, entries: int) -> None:
    require_lab_data()
    home = tmp_path / "home"
    home.mkdir()
    profiles = home / ".databrickscfg"
    lab = LabtuiRunner(tmp_path / "ws", labtui_env(
        HOME=str(home), DATABRICKS_CONFIG_FILE=str(profiles), COLUMNS="200",
        LABTUI_LOCAL_LATENCY="0.02"))
    answers = tmp_path / "answers.toml"
    answers.write_text(ANSWERS)
    victim = lab.popen("--section", "Infrastructure", "--headless", "--values", str(answers))
    state = lab.workspace / "state.db"
    deadline = time.monotonic() + 120
    while journal_size(state) < entries and victim.poll() is None:
        assert time.monotonic() < deadline, "the run never journaled that far"
        time.sleep(0.01)
    assert victim.poll() is None, f"the section finished before {entries} entries"
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)

    rolled = lab("--all", "--headless", "--rollback", "--yes")
    assert rolled.code == 0, rolled.output
    left = snapshot(lab.workspace)
    assert left["tables"] == {} and left["files"] == [], left
    assert not profiles.exists() or "[kill7-" not in profiles.read_text()
    assert journal_size(state) == 0

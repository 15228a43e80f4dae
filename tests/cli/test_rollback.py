"""Rolling back says which done steps it leaves broken; `--all --rollback` asks first in a
terminal, and needs --yes anywhere else."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.conftest import LabtuiRunner, Ran


def all_done(labtui: LabtuiRunner, files: Path) -> None:
    ran = labtui("--step", "demo-per-env", "--headless", "--with-requires",
                 "--set", f"demo-dir={files}")
    assert ran.code == 0, ran.output


def answered(labtui: LabtuiRunner, answer: str, *args: str) -> Ran:
    """labtui with a terminal on stdin (a pseudo-terminal), typing `answer`."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "labtui", *args, "--workspace", str(labtui.workspace)],
            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=labtui.env)
        os.close(terminal)
        os.write(controller, answer.encode() + b"\n")
        out, err = process.communicate(timeout=120)
    finally:
        os.close(controller)
    return Ran(process.returncode, out, err)


def test_rolling_back_a_requirement_names_the_done_steps_it_breaks(labtui: LabtuiRunner,
                                                                   tmp_path: Path) -> None:
    all_done(labtui, tmp_path / "f")
    rolled = labtui("--step", "demo-files", "--headless", "--rollback")
    assert rolled.code == 0, rolled.output
    warning, started = rolled.stderr.splitlines()[:2]
    assert warning == ("rolling back leaves these done steps broken (they need what is removed, "
                       "and show drift until run again): demo-per-env (dev), "
                       "demo-per-env (pipeline)")
    assert started == "▶ rollback demo-files"
    again = labtui("--step", "demo-per-env", "--env", "dev", "--headless", "--rollback")
    assert "broken" not in again.stderr, "nothing done needs demo-per-env"


def test_all_rollback_without_a_terminal_needs_yes(labtui: LabtuiRunner, tmp_path: Path) -> None:
    files = tmp_path / "f"
    all_done(labtui, files)
    refused = labtui("--all", "--env", "dev", "--headless", "--rollback")
    assert refused.code == 2, refused.output
    assert refused.stderr.strip().splitlines() == [
        "labtui: --all --rollback removes everything the lab created: add --yes to confirm "
        "(stdin is not a terminal, so labtui cannot ask) (see labtui --help)"]
    assert len(list(files.iterdir())) == 5, "nothing was removed"
    confirmed = labtui("--all", "--headless", "--rollback", "--yes")
    assert confirmed.code == 0, confirmed.output
    assert list(files.iterdir()) == []


def test_all_rollback_in_a_terminal_asks_and_lists_what_breaks(labtui: LabtuiRunner,
                                                               tmp_path: Path) -> None:
    files = tmp_path / "f"
    all_done(labtui, files)
    declined = answered(labtui, "n", "--all", "--env", "dev", "--headless", "--rollback")
    assert declined.code == 1, declined.stderr
    assert ("rolling back leaves this done step broken (it needs what is removed, and shows "
            "drift until run again): demo-per-env (pipeline)") in declined.stderr
    assert ("--all --rollback removes 4 resources of 2 steps, newest first: "
            "demo-per-env (dev) (1), demo-files (3)") in declined.stderr
    assert "Roll back every step? [y/N] labtui: nothing was rolled back" in declined.stderr
    assert len(list(files.iterdir())) == 5, "nothing was removed"

    confirmed = answered(labtui, "y", "--all", "--env", "dev", "--headless", "--rollback")
    assert confirmed.code == 0, confirmed.stderr
    assert sorted(p.name for p in files.iterdir()) == ["marker-pipeline.txt"]

"""The headless summary after a run of several units: totals, a line for each unit that did
something, and the units a failure left not reached."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import LabtuiRunner

SECRET = {"LABTUI_DEMO_SECRET": "summary-canary-value"}


def summary_lines(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("summary: "))
    return lines[start:]


def test_a_failure_names_the_units_not_reached(labtui: LabtuiRunner, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    ran = labtui("--section", "Demo", "--headless", "--set", f"demo-dir={blocker / 'sub'}",
                 extra_env=SECRET)
    assert ran.code == 1, ran.output
    summary = summary_lines(ran.stderr)
    # demo-canary needs nothing: the failure stops only what needs demo-files.
    assert summary[0] == "summary: 1 done, 1 failed, 2 not reached"
    assert summary[1].startswith(f"  ✗ demo-files: failed — {blocker / 'sub'}: not a directory")
    assert summary[2:] == ["  not reached: demo-per-env (dev), demo-per-env (pipeline)"]


def test_units_that_ended_well_are_counted_not_listed(labtui: LabtuiRunner, tmp_path: Path) -> None:
    values = ["--set", f"demo-dir={tmp_path / 'f'}"]
    assert labtui("--step", "demo-files", "--headless", *values).code == 0
    ran = labtui("--section", "Demo", "--headless", extra_env=SECRET)
    assert ran.code == 0, ran.output
    assert summary_lines(ran.stderr) == ["summary: 3 done, 1 skipped"], "what ended well is " \
        "counted: each unit's own line said it already"
    assert "summary-canary-value" not in ran.output


def test_verify_summary_lists_what_does_not_verify(labtui: LabtuiRunner, tmp_path: Path) -> None:
    assert labtui("--step", "demo-files", "--headless", "--set",
                  f"demo-dir={tmp_path / 'f'}").code == 0
    ran = labtui("--section", "Demo", "--headless", "--verify", extra_env=SECRET)
    assert ran.code == 3, ran.output
    assert summary_lines(ran.stderr) == [
        "summary: 1 done, 3 not done",
        "  ○ demo-per-env (dev): not done — marker: marker file",
        "  ○ demo-per-env (pipeline): not done — marker: marker file",
        "  ○ demo-canary: not done — echo: echo is None",
    ]


def test_json_ends_with_a_summary_object(labtui: LabtuiRunner, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    ran = labtui("--section", "Demo", "--headless", "--json",
                 "--set", f"demo-dir={blocker / 'sub'}", extra_env=SECRET)
    assert ran.code == 1, ran.output
    last = json.loads(ran.stdout.splitlines()[-1])
    assert last == {
        "event": "summary", "totals": {"done": 1, "failed": 1},
        "not_reached": [{"step": "demo-per-env", "env": "dev"},
                        {"step": "demo-per-env", "env": "pipeline"}],
        "text": "1 done, 1 failed, 2 not reached", "exit_code": 1,
    }

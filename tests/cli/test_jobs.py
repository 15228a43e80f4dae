"""--jobs: how many steps that do not need each other work at once."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import LabtuiRunner

SECRET = {"LABTUI_DEMO_SECRET": "jobs-canary-value"}


def test_jobs_1_works_one_step_after_the_other_in_lab_order(labtui: LabtuiRunner,
                                                          tmp_path: Path) -> None:
    ran = labtui("--section", "Demo", "--headless", "--json", "--jobs", "1",
                 "--set", f"demo-dir={tmp_path / 'f'}", extra_env=SECRET)
    assert ran.code == 0, ran.output
    events = [json.loads(line) for line in ran.stdout.splitlines()]
    edges = [(e["event"], e["step"], e["env"]) for e in events
             if e["event"] in ("step_started", "step_finished")]
    units = [("demo-files", None), ("demo-per-env", "dev"), ("demo-per-env", "pipeline"),
             ("demo-canary", None)]
    assert edges == [(edge, step, env) for step, env in units
                     for edge in ("step_started", "step_finished")]


def test_jobs_must_be_a_count_of_at_least_one(labtui: LabtuiRunner) -> None:
    ran = labtui("--all", "--headless", "--jobs", "0")
    assert ran.code == 2
    assert ran.stderr.strip() == "labtui: argument --jobs: must be at least 1 (see labtui --help)"

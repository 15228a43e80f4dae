"""A Databricks token the pipeline workspace does not accept stops the build pipeline before
anything is committed or run, saying what to do (the lab's attendee typed another token)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LabtuiRunner
from tests.steps.test_pipelines_headless import TOKEN, dev_loop_done, git_log, lab, values

__all__ = ["dev_loop_done", "lab"]  # the fixtures, used by name


def test_a_token_the_workspace_refuses_is_a_one_line_failure_before_anything_runs(
        lab: LabtuiRunner, dev_loop_done: Path) -> None:
    assert lab("--step", "pull-request", "--headless", *values(lab)).code == 1
    assert lab("--step", "pull-request", "--headless", "--approve", "--as", "grace").code == 0
    ready = lab("--step", "variable-group", "--with-requires", "--headless", *values(lab),
                timeout=900)
    assert ready.code == 0, ready.output[-3000:]
    uploaded = lab("--step", "upload-data", "--env", "pipeline", "--with-requires",
                   "--headless", *values(lab), timeout=900)
    assert uploaded.code == 0, uploaded.output[-3000:]
    before = git_log(lab)
    ran = lab("--step", "build-pipeline", "--headless", *values(lab))
    assert ran.code == 1, ran.output
    assert "db-access-token in contoso7-kv-pipeline is not a token of the Databricks " \
        "workspace contoso7-adb-pipeline" in ran.output
    assert "give a token of that workspace as databricks-token" in ran.output
    assert TOKEN not in ran.output and "Traceback" not in ran.output
    assert git_log(lab) == before, "nothing was committed"

"""`python -m labtui.targets.local.azpipelines run FILE` runs a pipeline from a shell: the
live timeline on stdout, one-line errors on stderr, exit 0 / 1 / 2."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT

PIPELINE = """
parameters:
- name: target
  default: qa
variables:
  greeting: hello
stages:
- stage: Build
  jobs:
  - job: Test
    steps:
    - script: |
        echo "$(greeting) ${{ parameters.target }} $(extra) $(token)"
        echo "the runner's own environment stays out: [$AZP_TEST_TOKEN]"
      displayName: Greet
- stage: Release
  jobs:
  - deployment: Deploy
    environment: production
    strategy: {runOnce: {deploy: {steps: [{script: echo deployed, displayName: Ship}]}}}
"""


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labtui.targets.local.azpipelines", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def pipeline_file(tmp_path: Path) -> Path:
    path = tmp_path / "azure-pipelines.yml"
    path.write_text(textwrap.dedent(PIPELINE))
    return path


def test_a_green_run_prints_its_timeline(pipeline_file: Path, tmp_path: Path) -> None:
    done = cli("run", str(pipeline_file), "--var", "extra=given", "--param", "target=prod",
               "--secret-from-env", "token=AZP_TEST_TOKEN", "--log", "--records",
               str(tmp_path / "records"), env={"AZP_TEST_TOKEN": "very-secret-token"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "◐ Stage Build" in lines
    assert "      | hello prod given ***" in lines
    assert "      | the runner's own environment stays out: []" in lines
    assert any(line.startswith("    ✓ Task Greet: succeeded") for line in lines)
    assert any(line.startswith("✓ Stage Release: succeeded") for line in lines)
    assert lines[-1].startswith("Run succeeded in ")
    assert "very-secret-token" not in done.stdout + done.stderr
    assert (tmp_path / "records" / "timeline.json").exists()


def test_a_rejected_approval_fails_the_run(pipeline_file: Path) -> None:
    done = cli("run", str(pipeline_file), "--reject", "production")
    assert done.returncode == 1
    assert "error: The approval for environment 'production' was rejected by" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("Run failed in ")


def test_an_approval_nobody_gives_times_out(pipeline_file: Path) -> None:
    done = cli("run", str(pipeline_file), "--checks", "production", "--approval-timeout",
               "0.2")
    assert done.returncode == 1
    assert "The approval for environment 'production' timed out after 0.2 seconds" in \
        done.stdout


def test_a_bad_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "azure-pipelines.yml"
    path.write_text("steps:\n- script: echo\n  colour: red\n")
    done = cli("run", str(path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"{path}:3:3: unknown key 'colour' in a script step (allowed: script, "
        "workingDirectory, failOnStderr, displayName, name, condition, continueOnError, "
        "enabled, env, timeoutInMinutes, retryCountOnTaskFailure)"]
    assert "Traceback" not in done.stderr


def test_validate_only_loads(pipeline_file: Path) -> None:
    done = cli("run", str(pipeline_file), "--validate")
    assert done.returncode == 0
    assert done.stdout == f"{pipeline_file}: 2 stage(s), 2 job(s): valid\n"


def test_a_secret_named_in_a_missing_environment_variable(pipeline_file: Path) -> None:
    done = cli("run", str(pipeline_file), "--secret-from-env", "token=AZP_NOT_SET_ANYWHERE")
    assert done.returncode == 2
    assert done.stderr.strip() == "--secret-from-env: the environment variable " \
                                  "'AZP_NOT_SET_ANYWHERE' is not set"

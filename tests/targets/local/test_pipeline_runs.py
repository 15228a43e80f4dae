"""Where the local target executes pipeline runs: at once in the background of a process that
lives on (the app), else at the first wait (headless); and a run whose process died is ended
as failed, saying so."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from labtui.targets.base import GitRepository, Variable
from labtui.targets.local import LocalTarget
from tests.targets.contract.test_pipelines_port import GROUP, ORG, PROJECT, write_pipeline


@pytest.fixture
def repository(target: LocalTarget, tmp_path: Path) -> GitRepository:
    target.devops.create_project(ORG, PROJECT)
    repo = target.devops.create_repository(ORG, PROJECT, PROJECT)
    copy = target.workstation.working_copy(repo, tmp_path / "clone")
    copy.repo()
    copy.checkout("master")
    write_pipeline(copy.path)
    copy.commit_all("the build pipeline")
    copy.push("master")
    target.variable_groups.create(ORG, PROJECT, GROUP, [
        Variable("model-name", "worst_regression"), Variable("db-access-token", "s3cr3t-t0k3n",
                                                             True)])
    return repo


def state_soon(target: LocalTarget, repository: GitRepository, run_id: int,
               wanted: str) -> str:
    pipeline = target.pipelines.get(ORG, PROJECT, "build")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = target.pipelines.run(pipeline, run_id).state
        if state == wanted:
            return state
        time.sleep(0.1)
    return target.pipelines.run(pipeline, run_id).state


def test_headless_keeps_a_run_queued_until_someone_waits(
        target: LocalTarget, repository: GitRepository) -> None:
    pipelines = target.pipelines
    run = pipelines.queue(pipelines.create(repository, "build", "azure-pipelines.yml"),
                          branch="master")
    time.sleep(0.5)
    assert pipelines.run(run.pipeline, run.id).state == "queued"
    assert pipelines.wait(run, 120).state == "succeeded"


def test_in_the_background_a_run_starts_when_queued(
        target: LocalTarget, repository: GitRepository) -> None:
    pipelines = target.pipelines
    pipeline = pipelines.create(repository, "build", "azure-pipelines.yml")
    left = pipelines.queue(pipeline, branch="master")  # queued by a headless process
    pipelines.background = True  # the app opened: it takes what was left queued
    assert pipelines.start_queued() == [left.id]
    assert state_soon(target, repository, left.id, "succeeded") == "succeeded"
    run = pipelines.queue(pipeline, branch="master")
    assert state_soon(target, repository, run.id, "succeeded") == "succeeded", \
        "nobody waited for it"


def test_a_run_whose_process_died_ends_failed_saying_so(
        target: LocalTarget, repository: GitRepository) -> None:
    pipelines = target.pipelines
    run = pipelines.queue(pipelines.create(repository, "build", "azure-pipelines.yml"),
                          branch="master")
    database = sqlite3.connect(target.sandbox_path / "sandbox.db")
    with database:  # as a killed process leaves it: claimed, running, its pid gone
        database.execute("UPDATE pipeline_runs SET state = 'running', owner = ? WHERE id = ?",
                         (f"{os.uname().nodename}:999999999", run.id))
    database.close()
    ended = pipelines.wait(run, 10)
    assert ended.state == "failed"
    assert "the process running it ended before it finished" in pipelines.message(ended)

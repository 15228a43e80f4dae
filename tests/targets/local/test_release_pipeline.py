"""The lab's release pipeline (assets/release-pipeline.yml), run by the YAML runner on this
machine with the sandbox's environments as its gate, against a real inference image on the
Docker engine: QA is served and smoke-tested, Production waits for a person's approval on the
`production` environment, then is served and answers; a rejection or a timeout fails the stage
with its reason."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import labtui_assets
import pytest

from labtui.targets.base import Approval, ApprovalCheck
from labtui.targets.local import LocalTarget
from labtui.targets.local.azpipelines import ResourceRun, Runner, RunResult, load
from labtui.targets.local.releases import EnvironmentGate
from tests.assets.test_assets import train_model_files
from tests.conftest import BASE_IMAGE, require, require_lab_data

ORG, PROJECT = "contoso", "lab-release"
OWNER = f"release-test-{os.getpid()}"
IMAGE_NAME = f"labtui-test/release-{os.getpid()}"
BUILD_RUN = 7
SAMPLE = {"age": 37, "hours-per-week": 40.0, "sex": "Female", "occupation": "Exec-managerial"}
pytestmark = pytest.mark.docker


def build(client: Any, context: Path, tag: str) -> None:
    """Build the inference image, it and its dependency stage labelled with OWNER."""
    output: list[str] = []
    for chunk in client.api.build(
            path=str(context), tag=tag, rm=True, decode=True,
            buildargs={"BASE_IMAGE": BASE_IMAGE, "LABTUI_WORKSPACE": OWNER},
            labels={"labtui.workspace": OWNER}):
        output.extend(line for line in chunk.get("stream", "").splitlines() if line.strip())
        if "error" in chunk:
            pytest.fail(f"building {tag} failed: {chunk['error']}\n" + "\n".join(output[-30:]))


def remove_containers(client: Any) -> None:
    for container in client.containers.list(
            all=True, filters={"label": f"labtui.workspace={OWNER}"}):
        container.remove(force=True)


def remove_owned(client: Any) -> None:
    """What these tests made on the engine: containers, then images (children first)."""
    import docker

    remove_containers(client)
    for _ in range(3):
        images = client.images.list(filters={"label": f"labtui.workspace={OWNER}"})
        if not images:
            return
        for image in sorted(images, key=lambda i: i.attrs["Created"], reverse=True):
            try:
                client.images.remove(image.id, force=True)
            except docker.errors.APIError as exc:  # a child goes first; the next pass retries
                print(f"not yet removed: {image.id}: {exc.explanation}")


@pytest.fixture(scope="module")
def docker_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The engine, with the inference image a green build run (number BUILD_RUN) left."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
        client.images.get(BASE_IMAGE)
    except (docker.errors.DockerException, OSError) as exc:
        require(False, f"no Docker engine with {BASE_IMAGE}: {exc}")
    context = tmp_path_factory.mktemp("inference")
    shutil.copytree(labtui_assets.root() / "Project_One", context, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "notebooks"))
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", context / "ca-bundle.crt")
    train_model_files(context / "model", census=require_lab_data())
    try:
        build(client, context, f"{IMAGE_NAME}:{BUILD_RUN}")
        yield client
    finally:
        remove_owned(client)
        client.close()


@pytest.fixture
def target(tmp_path: Path, docker_client: Any) -> Iterator[LocalTarget]:
    opened = LocalTarget(tmp_path / "ws")
    opened.devops.create_project(ORG, PROJECT)
    opened.environments.create(ORG, PROJECT, "qa")
    production = opened.environments.create(ORG, PROJECT, "production")
    opened.environments.add_approval_check(production, ApprovalCheck(("rm",), 2880))
    yield opened
    opened.close()
    remove_containers(docker_client)  # each test starts with nothing served


class Release:
    """One run of the release YAML in a thread; `waiting` is set when Production asks."""

    def __init__(self, target: LocalTarget, folder: Path, timeout_seconds: float) -> None:
        sources = folder / "repo"
        sources.mkdir()
        for name in ("release-pipeline.yml", "release-deploy.yml"):
            shutil.copy(labtui_assets.root() / name, sources / name)
        self.approvals: list[Approval] = []
        self.waiting = threading.Event()

        def waiting(approval: Approval) -> None:
            self.approvals.append(approval)
            self.waiting.set()

        gate = EnvironmentGate(target.environments, ORG, PROJECT,
                               timeout_seconds=timeout_seconds, on_waiting=waiting)
        self.runner = Runner(
            load(sources / "release-pipeline.yml"), sources=sources, folder=folder / "run",
            variables={"labtui.owner": OWNER}, gate=gate, build_id=12, reason="ResourceTrigger",
            groups=lambda name: {"image-name": (IMAGE_NAME, False)},
            resources={"build": ResourceRun(BUILD_RUN, "20261201.1", 1, "Build Pipeline",
                                            "master", "c0ffee")})
        self.result: list[RunResult] = []
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result.append(self.runner.run())
        finally:
            self.waiting.set()  # a run that ended without asking wakes the test too

    def wait_for_approval(self) -> Approval:
        assert self.waiting.wait(240), "Production never asked for its approval"
        assert self.approvals, "the run ended before Production asked: " + \
            self.runner.records.log_path.read_text()[-3000:]
        return self.approvals[0]

    def finish(self) -> RunResult:
        self.thread.join(300)
        assert self.result, "the run did not finish"
        return self.result[0]


def serving(client: Any, slot: str) -> list[Any]:
    return client.containers.list(filters={"label": [f"labtui.workspace={OWNER}",
                                                     f"labtui.purpose=release-{slot}"]})


def score(client: Any, slot: str) -> float:
    (container,) = serving(client, slot)
    container.reload()
    port = container.attrs["NetworkSettings"]["Ports"]["5001/tcp"][0]["HostPort"]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/score",
                                     data=json.dumps(SAMPLE).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        estimate = json.loads(answer.read())["estimated_wages"]
    assert isinstance(estimate, float)
    return estimate


def errors(run: RunResult, record: str) -> tuple[str, ...]:
    return run.records.records[record].errors


def test_qa_is_served_then_production_after_its_approval(
        docker_client: Any, target: LocalTarget, tmp_path: Path) -> None:
    release = Release(target, tmp_path, timeout_seconds=300)
    approval = release.wait_for_approval()
    qa_log = release.runner.records.step_log("QA.DeployQA.2")
    assert "smoke test passed: estimated_wages" in qa_log, qa_log
    assert serving(docker_client, "qa") and not serving(docker_client, "production")
    assert docker_client.images.get(f"{IMAGE_NAME}:qa").id == \
        docker_client.images.get(f"{IMAGE_NAME}:{BUILD_RUN}").id, "the build's image, for QA"
    assert target.environments.approvals(ORG, PROJECT) == [approval]
    assert (approval.environment, approval.stage, approval.run_id) == ("production",
                                                                      "Production", 12)

    target.environments.approve(approval, "rm", "QA signed it off")
    run = release.finish()
    assert run.result == "succeeded", run.records.log_path.read_text()[-3000:]
    assert run.stages == {"QA": "succeeded", "Production": "succeeded"}
    assert "Approved for environment 'production' by rm" in run.records.log_path.read_text()
    assert "smoke test passed" in run.records.step_log("Production.DeployProduction.2")
    assert 50_000 < score(docker_client, "production") < 400_000, "production answers"
    assert docker_client.images.get(f"{IMAGE_NAME}:production")


def test_a_rejected_approval_fails_production_with_the_reason(
        docker_client: Any, target: LocalTarget, tmp_path: Path) -> None:
    release = Release(target, tmp_path, timeout_seconds=300)
    target.environments.reject(release.wait_for_approval(), "rm",
                               "the QA team found a regression")
    run = release.finish()
    assert run.result == "failed" and run.stages == {"QA": "succeeded", "Production": "failed"}
    reason = ("The approval for environment 'production' was rejected by rm: the QA team "
              "found a regression")
    assert errors(run, "Production.DeployProduction") == (reason,)
    assert not serving(docker_client, "production"), "nothing deployed to production"


def test_an_approval_nobody_gives_times_out(
        docker_client: Any, target: LocalTarget, tmp_path: Path) -> None:
    release = Release(target, tmp_path, timeout_seconds=2)
    started = time.monotonic()
    run = release.finish()
    assert run.result == "failed" and run.stages["Production"] == "failed"
    assert errors(run, "Production.DeployProduction") == (
        "The approval for environment 'production' timed out after 2 seconds",)
    assert time.monotonic() - started < 120
    assert [a.status for a in target.environments.approvals(ORG, PROJECT, status=None)] == \
        ["timed out"]

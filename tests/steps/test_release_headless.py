"""The release's approval ends through the CLI, as a release manager types it: `labtui --step
release-pipeline --headless` takes the release to Production's approval, then `--reject --as
NAME --comment WHY` (or nobody, within `approval-timeout`) ends Production failed, with the
reason in the output and exit code 1 (a failed step).

The release runs the lab's own release files (assets/release-pipeline.yml and its deploy
template) for real, on the Docker engine. The build it releases is a small one defined under
the step's build pipeline name: it builds an image that answers the smoke test, instead of
training and building the lab's inference image (minutes; the whole-lab test does that).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from labtui_steps.devops import DevOpsProject, SeedRepo

from labtui.state import Workspace
from labtui.targets.base import Variable
from labtui.targets.local import LocalTarget
from labtui.targets.local.containers import DockerContainers
from labtui.testing import StepLab
from tests.conftest import BASE_IMAGE, LabtuiRunner, labtui_env
from tests.steps.conftest import ANSWERS

ORG, PROJECT = "contoso7", "contoso7-mlops"
GROUP = "Staging Environment Variable Group"
BUILD = textwrap.dedent("""
    trigger: none
    variables:
    - group: Staging Environment Variable Group
    steps:
    - bash: |
        set -eu
        docker build -q --label "labtui.workspace=$LABTUI_WORKSPACE" \\
          --label labtui.pipeline=smoke -t "$(image-name):$(Build.BuildId)" smoke >/dev/null
        echo "built $(image-name):$(Build.BuildId)"
      displayName: Build the image
    """)
DOCKERFILE = f"FROM {BASE_IMAGE}\nCOPY serve.py /serve.py\nCMD [\"python3\", \"/serve.py\"]\n"
SERVE = textwrap.dedent("""
    import http.server, json

    class Score(http.server.BaseHTTPRequestHandler):
        def answer(self, body):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.answer(b"Healthy")

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.answer(json.dumps({"estimated_wages": 123456.0}).encode())

    http.server.ThreadingHTTPServer(("0.0.0.0", 5001), Score).serve_forever()
    """)


def answers(timeout: str, pipeline: str) -> str:
    return (f'prefix = "{ANSWERS["prefix"]}"\n'
            f'tenant-id = "{ANSWERS["tenant-id"]}"\n'
            f'subscription-id = "{ANSWERS["subscription-id"]}"\n'
            'reviewer = "grace"\napprover = "rm"\n'
            f'approval-timeout = "{timeout}"\n'
            f'build-pipeline-name = "{pipeline}"\n')


def released(tmp_path: Path, containers: DockerContainers, *, timeout: str = "2d",
             pipeline: str = "model-build") -> Iterator[LabtuiRunner]:
    """A workspace whose build pipeline (named `pipeline`) has a green run that built an
    image answering the smoke test; build-pipeline is recorded done. Removes the images and
    containers of the workspace afterwards."""
    home = tmp_path / "home"
    home.mkdir()
    with StepLab(tmp_path / "ws", answers=dict(ANSWERS)) as lab:
        lab.run(DevOpsProject, None)
        lab.run(SeedRepo, None)
    target = LocalTarget(tmp_path / "ws")
    try:
        owner = target.containers.owner
        assert owner is not None
        image = f"p1-release-{owner[:8]}"
        target.variable_groups.create(ORG, PROJECT, GROUP, [Variable("image-name", image)])
        repo = target.devops.get_repository(ORG, PROJECT, PROJECT)
        copy = target.workstation.working_copy(repo, tmp_path / "clone")
        copy.repo()
        copy.checkout("master")
        (copy.path / "azure-pipelines.yml").write_text(BUILD)
        (copy.path / "smoke").mkdir()
        (copy.path / "smoke" / "Dockerfile").write_text(DOCKERFILE)
        (copy.path / "smoke" / "serve.py").write_text(SERVE)
        copy.commit_all("a build that answers the smoke test")
        copy.push("master")
        build = target.pipelines.create(repo, pipeline, "azure-pipelines.yml")
        run = target.pipelines.wait(target.pipelines.queue(build, branch="master"), 300)
        assert run.state == "succeeded", target.pipelines.logs(run)
    finally:
        target.close()
    workspace = Workspace.open(tmp_path / "ws", command="test")
    try:
        workspace.set_status("build-pipeline", "pipeline", "done")
    finally:
        workspace.close()
    env = labtui_env(HOME=str(home), DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"),
                     COLUMNS="200")
    runner = LabtuiRunner(tmp_path / "ws", env)
    (tmp_path / "answers.toml").write_text(answers(timeout, pipeline))
    runner.env["LABTUI_TEST_ANSWERS"] = str(tmp_path / "answers.toml")
    try:
        yield runner
    finally:
        label = f"labtui.workspace={owner}"
        for container in containers.containers(label):
            containers.remove_container(container.id)
        for found in containers.images(label):
            for tag in found.tags or [found.id]:
                containers.remove_image(tag)


@pytest.fixture
def lab(tmp_path: Path, containers: DockerContainers) -> Iterator[LabtuiRunner]:
    yield from released(tmp_path, containers)


def values(lab: LabtuiRunner) -> tuple[str, str]:
    return "--values", lab.env["LABTUI_TEST_ANSWERS"]


@pytest.mark.docker
def test_a_rejected_approval_ends_production_failed_with_who_and_why(
        lab: LabtuiRunner) -> None:
    started = lab("--step", "release-pipeline", "--headless", *values(lab), timeout=600)
    assert started.code == 1, started.output[-3000:]
    assert "waits for rm's approval on production" in started.output, started.output[-3000:]
    assert "smoke test passed" in started.output, "QA was served and smoke-tested"

    rejected = lab("--step", "release-pipeline", "--headless", "--reject", "--as", "rm",
                   "--comment", "QA found a regression", timeout=600)
    assert rejected.code == 1, rejected.output[-3000:]
    out = rejected.output
    assert "rm rejected the Production stage" in out, out[-3000:]
    assert "its approval rejected by rm: QA found a regression" in out, out[-3000:]
    assert "✗ Deploy to Production" in out, "the stage failed: the run went on after the " \
        "process that started it had ended"
    assert "The approval for environment 'production' was rejected by rm: QA found a " \
        "regression" in out, "the run's own log says who and why"
    assert "Traceback" not in out
    verified = lab("--step", "release-pipeline", "--headless", "--verify")
    assert verified.code == 3
    assert "its approval rejected by rm: QA found a regression" in verified.output


@pytest.mark.docker
def test_an_approval_given_later_by_another_command_serves_production(
        lab: LabtuiRunner) -> None:
    started = lab("--step", "release-pipeline", "--headless", *values(lab), timeout=600)
    assert started.code == 1 and "waits for rm's approval" in started.output, \
        started.output[-3000:]
    approved = lab("--step", "release-pipeline", "--headless", "--approve", "--as", "rm",
                   timeout=600)
    assert approved.code == 0, approved.output[-3000:]
    out = approved.output
    assert "rm approved the Production stage" in out
    assert "succeeded: QA and Production are served" in out
    assert "✓ Deploy to Production" in out and "✓ Deploy to QA" in out
    assert "Production serving: p1-release-" in out, out[-3000:]


@pytest.fixture
def impatient(tmp_path: Path, containers: DockerContainers) -> Iterator[LabtuiRunner]:
    yield from released(tmp_path, containers, timeout="3s")


@pytest.mark.docker
def test_an_approval_nobody_gives_times_out_and_fails_production(
        impatient: LabtuiRunner) -> None:
    lab = impatient
    started = lab("--step", "release-pipeline", "--headless", *values(lab), timeout=600)
    assert started.code == 1, started.output[-3000:]
    assert "environment production needs rm's approval within 3s" in started.output
    assert "waits for rm's approval on production" in started.output, started.output[-3000:]

    # Nobody approves: the run waits on (no process follows it) until its deadline passes.
    for _ in range(120):
        verified = lab("--step", "release-pipeline", "--headless", "--verify")
        if "timed out" in verified.output:
            break
    assert verified.code == 3, verified.output[-3000:]
    assert "Production: run" in verified.output
    assert "its approval timed out after 3s" in verified.output, verified.output[-3000:]

    again = lab("--step", "release-pipeline", "--headless", *values(lab), timeout=600)
    assert again.code == 1, again.output[-3000:]
    assert "failed at stage Production: its approval timed out after 3s" in again.output, \
        again.output[-3000:]
    assert "The approval for environment 'production' timed out after 3 seconds" in \
        again.output, "the run's own log says it too"
    assert "Traceback" not in again.output


@pytest.mark.parametrize("given, words", [
    ("2880", "approval-timeout: a whole number with a unit: s, m, h or d (30s, 90m, 2d); "
             "2880 has no unit"),
    ("two days", "approval-timeout: a whole number with a unit"),
    ("0s", "approval-timeout: a whole number with a unit: s, m, h or d (30s, 90m, 2d), "
           "above zero"),
])
def test_a_bad_approval_timeout_is_one_line_naming_the_rule(
        tmp_path: Path, given: str, words: str) -> None:
    lab = LabtuiRunner(tmp_path / "ws", labtui_env(HOME=str(tmp_path)))
    (tmp_path / "answers.toml").write_text(answers(given, "model-build"))
    ran = lab("--step", "release-pipeline", "--headless", "--values",
              str(tmp_path / "answers.toml"))
    assert ran.code == 2, ran.output
    assert words in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1 and "Traceback" not in ran.output


@pytest.fixture
def renamed(tmp_path: Path, containers: DockerContainers) -> Iterator[LabtuiRunner]:
    yield from released(tmp_path, containers, pipeline="census-ci")


@pytest.mark.docker
def test_the_release_takes_the_build_of_the_build_pipeline_name_given(
        renamed: LabtuiRunner) -> None:
    lab = renamed
    started = lab("--step", "release-pipeline", "--headless", *values(lab), timeout=600)
    assert started.code == 1, started.output[-3000:]
    assert "smoke test passed" in started.output, "QA served census-ci's image"
    assert "waits for rm's approval on production" in started.output
    target = LocalTarget(lab.workspace)
    try:
        repo = target.devops.get_repository(ORG, PROJECT, PROJECT)
        copy = target.workstation.working_copy(repo, lab.workspace.parent / "check")
        copy.repo()
        assert "    source: census-ci  # the build pipeline's name" in copy.show(
            "origin/master", "release-pipeline.yml")
        build = target.pipelines.runs(target.pipelines.get(ORG, PROJECT, "census-ci"))[0]
    finally:
        target.close()
    assert f":{build.id} as p1-release-" in started.output, "it tagged that build's image"

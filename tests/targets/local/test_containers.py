"""Containers on a real Docker engine: build with streamed output, run, copy out, remove."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from labtui.targets.base import NotFound, TargetError
from labtui.targets.local.containers import DockerContainers
from tests.conftest import BASE_IMAGE


def test_build_run_copy_and_remove(containers: DockerContainers, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nRUN mkdir -p /out && echo built-layer\n"
        'CMD ["sh", "-c", "echo hello from inside; echo result > /out/result.txt"]\n'
    )
    lines: list[str] = []
    steps: list[tuple[int, int]] = []
    tag = f"labtui-test/containers:{os.getpid()}"
    image = containers.build(context, tag, build_args={"BASE": BASE_IMAGE},
                             labels={"labtui.test": "yes"}, log=lines.append,
                             progress=lambda done, total: steps.append((done, total)))
    try:
        assert image.labels["labtui.test"] == "yes"
        assert any("Step 1/" in line for line in lines), lines
        assert steps and steps[-1][0] == steps[-1][1] - 1, "progress reaches the last step"
        assert tag in {t for i in containers.images("labtui.test=yes") for t in i.tags}

        container = containers.run(tag, name=f"labtui-test-{os.getpid()}",
                                   labels={"labtui.test": "yes"})
        assert containers.wait(container.id, timeout=60) == 0
        assert "hello from inside" in list(containers.logs(container.id))
        containers.copy_from(container.id, "/out", tmp_path)
        assert (tmp_path / "out" / "result.txt").read_text() == "result\n"
        assert containers.remove_container(container.id) is True
        assert containers.remove_container(container.id) is False
    finally:
        containers.remove_image(tag)
    assert containers.remove_image(tag) is False
    with pytest.raises(NotFound):
        containers.image(tag)


def test_a_failing_build_names_the_error(containers: DockerContainers, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nRUN exit 3\n")
    with pytest.raises(TargetError, match="docker build of labtui-test/broken:1 failed"):
        containers.build(tmp_path, "labtui-test/broken:1")


def test_no_engine_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("docker") is None:
        pytest.skip("docker SDK client only")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(TargetError) as raised:
        DockerContainers().ping()
    message = str(raised.value)
    assert "no Docker engine is reachable" in message and "dockerd" in message
    assert "\n" not in message

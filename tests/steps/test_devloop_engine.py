"""The Dev loop's images and containers on a Docker engine that other workspaces share: tags
are unique per workspace, and a rollback (or the next verify) removes only its own."""

from __future__ import annotations

import os
from pathlib import Path

from labtui_steps.devloop import BuildImage
from labtui_steps.devloop.common import image_tag
from labtui_steps.devloop.records import Image
from labtui_steps.images import PURPOSE_LABEL, workspace_label

from labtui.targets.base import OWNER_LABEL, ModelVersion, NotFound
from labtui.targets.local.containers import DockerContainers
from tests.conftest import BASE_IMAGE
from tests.steps.conftest import ANSWERS, Lab


def _image(lab: Lab, tag: str, tmp_path: Path) -> str:
    context = tmp_path / f"context-{lab.target.containers.owner}"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nCMD [\"sleep\", \"60\"]\n")
    return lab.target.containers.build(context, tag).id


def test_two_workspaces_with_one_prefix_keep_their_own_images(
        lab: Lab, tmp_path: Path, containers: DockerContainers) -> None:
    other = Lab(tmp_path / "other-ws", answers=ANSWERS)
    version = ModelVersion("worst_regression", 1, {"state": "dev"}, "")
    ours_ctx, theirs_ctx = lab.ctx(BuildImage, "dev"), other.ctx(BuildImage, "dev")
    ours = image_tag(ours_ctx, ours_ctx.value("image-name"), version)
    theirs = image_tag(theirs_ctx, theirs_ctx.value("image-name"), version)
    assert ours_ctx.value("image-name") == theirs_ctx.value("image-name") == "contoso7-inference"
    assert ours != theirs and ours.startswith("contoso7-inference:1-")
    try:
        _image(lab, ours, tmp_path)
        their_id = _image(other, theirs, tmp_path)
        stale = other.target.containers.run(theirs, name=f"labtui-verify-test-{os.getpid()}",
                                            labels={PURPOSE_LABEL: "verify"})
        # Our rollback, even of a journal entry naming their tag, leaves their things alone.
        Image(theirs).undo(ours_ctx)
        assert containers.image(theirs).id == their_id
        assert containers.container(stale.id).status == "running"
        Image(ours).undo(ours_ctx)
        assert containers.images(workspace_label(ours_ctx)) == []
        assert containers.image(theirs).labels[OWNER_LABEL] == other.target.containers.owner

        # Their rollback removes their image and the verify server a crash left running.
        Image(theirs).undo(theirs_ctx)
        assert containers.images(workspace_label(theirs_ctx)) == []
        assert containers.containers(workspace_label(theirs_ctx)) == []
    finally:
        for tag in (ours, theirs):
            for container in containers.containers(f"{OWNER_LABEL}"):
                if container.image == tag:
                    containers.remove_container(container.id)
            containers.remove_image(tag)
        other.close()
    try:
        containers.image(theirs)
        raise AssertionError(f"{theirs} is still there")
    except NotFound:
        pass

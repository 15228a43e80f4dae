"""What this workspace made on the Docker engine: the labels that tell it apart, and cleanup.

Both the dev loop's steps (which build and run images) and the journal's records (which
remove them) use these, so they live apart from either.
"""

from __future__ import annotations

from labtui.step import StepContext, StepError
from labtui.targets.base import OWNER_LABEL

PURPOSE_LABEL = "labtui.purpose"
STAGE_LABEL = "labtui.stage"


def workspace_label(ctx: StepContext) -> str:
    """The label filter of what this workspace made on the Docker engine (the port labels
    everything it creates with its owner id)."""
    owner = ctx.target.containers.owner
    if owner is None:
        raise StepError("the Containers port has no owner: it cannot tell this workspace's "
                        "images from another's")
    return f"{OWNER_LABEL}={owner}"


def remove_verify_servers(ctx: StepContext) -> None:
    """Remove the scoring servers this workspace's verifies started (and left behind)."""
    containers = ctx.target.containers
    for container in containers.containers(workspace_label(ctx)):
        if container.labels.get(PURPOSE_LABEL) == "verify":
            containers.remove_container(container.id)


def remove_image_and_containers(ctx: StepContext, tag: str) -> None:
    """Remove an image and every container of this workspace made from it, and the untagged
    images earlier builds of this workspace left behind. What other workspaces made on the
    same engine is never touched (the port removes only what carries our owner label)."""
    containers = ctx.target.containers
    for container in containers.containers(workspace_label(ctx)):
        if container.image == tag:
            containers.remove_container(container.id)
    if containers.remove_image(tag):
        ctx.log(f"removed image {tag}")
    remove_dangling(ctx, caches=True)


def remove_dangling(ctx: StepContext, *, caches: bool = False) -> None:
    """Remove this workspace's images that lost their tag to a rebuild; with `caches`, also
    the images of the Dockerfiles' dependency stages, which the engine keeps as the cache
    that makes a rebuild take seconds."""
    containers = ctx.target.containers
    for image in containers.images(workspace_label(ctx)):
        if not image.tags and (caches or image.labels.get(STAGE_LABEL) != "deps"):
            containers.remove_image(image.id)

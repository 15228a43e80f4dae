"""What the Dev loop steps share: the attendee's working copy, the newest model of the
environment, and how an image is tagged, labelled and built from a fresh context.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from labtui_steps.devops.common import working_copy_path as repo_path

from labtui.step import StepContext, StepError
from labtui.targets.base import ModelVersion, NotFound, TargetError

TESTS_FOLDER = "Project_One-Tests"


def model_tags(ctx: StepContext) -> dict[str, str]:
    """The tags the notebook registers with: the environment as state, and created_by."""
    return {"state": ctx.env or "dev", "created_by": ctx.value("created-by")}


def newest_model(ctx: StepContext, *, advice: str = "; run train-model first") -> ModelVersion:
    """The newest registered version of the lab's model with this environment's tags.

    Raises:
        StepError: there is none (train-model has not run); `advice` ends the message.
    """
    try:
        versions = ctx.target.models.list_models(ctx.value("ml-workspace-name"),
                                                 ctx.value("model-name"), model_tags(ctx))
    except NotFound as exc:
        raise StepError(f"{exc}{advice}") from None
    if not versions:
        raise StepError(
            f"no version of {ctx.value('model-name')} with tags {model_tags(ctx)}{advice}")
    return versions[-1]


def working_copy(ctx: StepContext) -> Path:
    """The attendee's clone, which must exist (seed-repo made it)."""
    path = repo_path(ctx)
    if not (path / ".git").is_dir():
        raise StepError(f"no working copy at {path}; run seed-repo first")
    return path


def image_tag(ctx: StepContext, repository: str, version: ModelVersion) -> str:
    """`repository:<model version>-<workspace id>`: unique per workspace on a shared engine,
    where two attendees may well pick the same prefix."""
    return f"{repository}:{version.version}-{ctx.target.containers.owner}"


def copy_ca_bundle(ctx: StepContext, context: Path) -> None:
    bundle = ctx.values.get("ca-bundle")
    if not bundle:
        return
    source = Path(bundle).expanduser()
    if not source.is_file():
        raise StepError(f"ca-bundle: {source} is not a file")
    shutil.copyfile(source, context / "ca-bundle.crt")


def remove_quietly(ctx: StepContext, container: str) -> None:
    """Remove a container on the way out of a failure too; when the engine is gone, the
    journal keeps it for the rollback."""
    try:
        ctx.target.containers.remove_container(container)
    except TargetError as exc:
        ctx.log.warn(f"container {container} could not be removed now ({exc}); "
                     "--rollback removes it")


def fresh(folder: Path) -> Path:
    """`folder`, emptied: what a previous build or test run left there is gone."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def image_labels(ctx: StepContext, version: ModelVersion) -> dict[str, str]:
    """The labels both images carry: the model's name, version and tags they were built with."""
    labels = {"labtui.model.name": version.name, "labtui.model.version": str(version.version)}
    labels.update({f"labtui.model.tag.{key}": value for key, value in version.tags.items()})
    return labels

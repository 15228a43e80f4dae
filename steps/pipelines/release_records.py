"""The journal records of the release-pipeline step: the YAML it commits to master, the
pipeline defined from it, the environments (with their checks) it deploys to, and the images
and containers a release serves. Kinds and field names are stored in state.db: they never
change."""

from __future__ import annotations

from dataclasses import dataclass

from labtui_steps.images import PURPOSE_LABEL, workspace_label
from labtui_steps.pipeline_undo import delete_pipeline, remove_from_branch, repository_of

from labtui.journal import Record
from labtui.step import StepContext

RELEASE_FILES_MESSAGE = "Remove the release pipeline"


@dataclass(frozen=True)
class ReleaseFiles(Record):
    """Files committed to `branch`: the undo removes them with a new commit (a shared
    branch's history is never rewritten), in a clone of its own."""

    kind = "release-files"
    ref_field = None
    organization: str
    project: str
    repository: str
    branch: str
    paths: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.branch}:{','.join(self.paths)}"

    def undo(self, ctx: StepContext) -> None:
        repo = repository_of(ctx, self.organization, self.project, self.repository)
        if repo is None:
            return
        removed = remove_from_branch(ctx, repo, self.branch, self.paths,
                                     RELEASE_FILES_MESSAGE)
        if removed is not None:
            present, commit = removed
            ctx.log(f"removed {', '.join(present)} from {self.branch}"
                    + (f" ({commit[:10]})" if commit else ""))


@dataclass(frozen=True)
class ReleaseDefinition(Record):
    """The release pipeline's definition; deleting it deletes its runs."""

    kind = "release-definition"
    organization: str
    project: str
    name: str

    def undo(self, ctx: StepContext) -> None:
        if delete_pipeline(ctx, self.organization, self.project, self.name) is not None:
            ctx.log(f"deleted pipeline {self.name} with its runs")


@dataclass(frozen=True)
class DeploymentEnvironment(Record):
    """An environment a release deploys to; deleting it deletes its checks and approvals."""

    kind = "deployment-environment"
    organization: str
    project: str
    name: str

    def undo(self, ctx: StepContext) -> None:
        if ctx.target.environments.delete(self.organization, self.project, self.name):
            ctx.log(f"deleted environment {self.name} with its checks")


@dataclass(frozen=True)
class Deployment(Record):
    """What a release serves in one slot (qa, production): the containers of this workspace
    labelled for it, and the image's tag for the slot."""

    kind = "release-deployment"
    ref_field = "tag"
    tag: str
    slot: str

    def undo(self, ctx: StepContext) -> None:
        containers = ctx.target.containers
        for container in containers.containers(workspace_label(ctx)):
            if container.labels.get(PURPOSE_LABEL) == f"release-{self.slot}":
                containers.remove_container(container.id)
                ctx.log(f"removed the {self.slot} container {container.name}")
        if containers.remove_image(self.tag):
            ctx.log(f"removed the tag {self.tag}")

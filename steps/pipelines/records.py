"""The journal records of the pull-request, variable-group and build-pipeline steps, and how
each is undone (release-pipeline's are in `release_records`).

Each record is what a step journals *before* it creates something, holding all its undo
needs, so that a rollback works from the journal alone (even once the step that made it is no
longer installed). Kinds and field names are stored in state.db: they never change. What a
record removes may already be gone; that is fine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labtui_steps.images import remove_image_and_containers
from labtui_steps.pipeline_undo import delete_pipeline, remove_from_branch, repository_of

from labtui.journal import Record
from labtui.step import StepContext
from labtui.targets.base import GitRepository


@dataclass(frozen=True)
class PullRequest(Record):
    """A pull request the step opened from `source` into `target`. The undo abandons it while
    it is open; once completed, it reverts its merge commit on `target` with a new commit (a
    shared branch's history is never rewritten)."""

    kind = "pull-request"
    ref_field = None
    source: str
    target: str
    title: str
    organization: str
    project: str
    repository: str

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.source}→{self.target}"

    def undo(self, ctx: StepContext) -> None:
        repo = repository_of(ctx, self.organization, self.project, self.repository)
        if repo is None:
            return
        prs = ctx.target.pull_requests
        ours = [pr for pr in prs.requests(repo, status=None)
                if (pr.source, pr.target, pr.title) == (self.source, self.target, self.title)]
        for pr in ours:
            if pr.status == "active" and prs.abandon(repo, pr.id):
                ctx.log(f"abandoned pull request {pr.id}")
            elif pr.status == "completed" and pr.merge_commit:
                revert_merge(ctx, repo, self.target, pr.merge_commit, pr.id)


def revert_merge(ctx: StepContext, repo: GitRepository, branch: str, commit: str,
                 pull_request: int) -> None:
    """Revert a completed pull request's merge commit on `branch`, in a clone of its own (the
    attendee's working copy stays as it is), unless it was reverted already."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="labtui-revert-") as folder:
        copy = ctx.target.workstation.working_copy(repo, Path(folder) / "clone")
        copy.repo()
        copy.checkout(branch)
        if copy.reverted(branch, commit):
            ctx.log(f"the merge of pull request {pull_request} is reverted already")
            return
        reverted = copy.revert(commit, mainline=1)
        copy.push(branch)
        ctx.log(f"reverted the merge of pull request {pull_request} on {branch}: "
                f"{reverted[:10]}")


@dataclass(frozen=True)
class VariableGroup(Record):
    kind = "variable-group"
    organization: str
    project: str
    name: str

    def undo(self, ctx: StepContext) -> None:
        if ctx.target.variable_groups.delete(self.organization, self.project, self.name):
            ctx.log(f"deleted variable group {self.name}")


@dataclass(frozen=True)
class PipelineFile(Record):
    """A file the step committed to `branch` (the build pipeline's YAML). The undo removes it
    with a new commit: a shared branch's history is never rewritten."""

    kind = "pipeline-file"
    ref_field = "path"
    path: str
    branch: str
    organization: str
    project: str
    repository: str

    def undo(self, ctx: StepContext) -> None:
        repo = repository_of(ctx, self.organization, self.project, self.repository)
        if repo is None:
            return
        removed = remove_from_branch(ctx, repo, self.branch, (self.path,),
                                     f"Remove {self.path}")
        if removed is not None:
            ctx.log(f"removed {self.path} from {self.branch}: {removed[1][:10]}")


@dataclass(frozen=True)
class BuildPipeline(Record):
    """A pipeline definition: the undo deletes it with its runs."""

    kind = "build-pipeline"
    organization: str
    project: str
    name: str

    def undo(self, ctx: StepContext) -> None:
        runs = delete_pipeline(ctx, self.organization, self.project, self.name)
        if runs is not None:
            ctx.log(f"deleted pipeline {self.name} and its {runs} run{'s' if runs != 1 else ''}")


@dataclass(frozen=True)
class PipelineImages(Record):
    """The images the runs of a pipeline built (labelled with it) on this workspace's
    engine, and their containers."""

    kind = "pipeline-images"
    ref_field = "pipeline"
    pipeline: str  # <project>/<name>, the value of the images' label

    def undo(self, ctx: StepContext) -> None:
        from labtui_steps.images import remove_dangling, workspace_label

        containers = ctx.target.containers
        ours = [image for image in containers.images(workspace_label(ctx))
                if image.labels.get("labtui.pipeline") == self.pipeline]
        for image in ours:
            for tag in image.tags or (image.id,):
                remove_image_and_containers(ctx, tag)
        remove_dangling(ctx, caches=True)

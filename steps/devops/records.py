"""The Azure DevOps section's journal records: the project, the repository, the attendee's
clone and branch, their Git credential and Git folder, and how each is undone.

Each record is what a step journals *before* it creates something, holding all its undo
needs, so that a rollback works from the journal alone (even once the step that made it is no
longer installed). Kinds and field names are stored in state.db: they never change. What a
record removes may already be gone; that is fine.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from labtui_steps.pipeline_undo import repository_of
from labtui_steps.record_undo import ignore_missing, workspace_host

from labtui.journal import Record
from labtui.step import StepContext
from labtui.targets.resources import DatabricksHost, GitCredential


@dataclass(frozen=True)
class DevOpsProject(Record):
    kind = "devops-project"
    ref_field = None
    organization: str
    project: str

    @property
    def ref(self) -> str:
        return f"{self.organization}/{self.project}"

    def undo(self, ctx: StepContext) -> None:
        if ctx.target.devops.delete_project(self.organization, self.project):
            ctx.log(f"deleted project {self.ref}")


@dataclass(frozen=True)
class DevOpsRepository(Record):
    kind = "devops-repository"
    ref_field = None
    organization: str
    project: str
    repository: str

    @property
    def ref(self) -> str:
        return f"{self.organization}/{self.project}/{self.repository}"

    def undo(self, ctx: StepContext) -> None:
        if ctx.target.devops.delete_repository(self.organization, self.project,
                                               self.repository):
            ctx.log(f"deleted repository {self.ref}")


@dataclass(frozen=True)
class WorkingCopy(Record):
    """A clone on the attendee's machine; the undo removes it, and `repos/` once empty."""

    kind = "working-copy"
    ref_field = "path"
    path: str

    def undo(self, ctx: StepContext) -> None:
        path = Path(self.path)
        if path.exists():
            shutil.rmtree(path)
        if path.parent.name == "repos" and path.parent.exists() and \
                not any(path.parent.iterdir()):
            path.parent.rmdir()


@dataclass(frozen=True)
class Branch(Record):
    """A branch the step pushed. `before` is the commit it pointed at before, when it
    existed already: then it is the attendee's, and kept."""

    kind = "branch"
    name: str
    organization: str
    project: str
    repository: str
    before: str = ""

    def undo(self, ctx: StepContext) -> None:
        repo = repository_of(ctx, self.organization, self.project, self.repository)
        if repo is None:
            return
        if self.before:
            ctx.log(f"{self.name} of {repo.name} existed before the seed; it is kept")
            return
        ctx.target.devops.delete_branch(repo, self.name)


@dataclass(frozen=True)
class GitProvider(Record):
    """The workspace's Git credential was set; `previous` is the provider it had ("" for none)
    and `previous_username` its user name, which the undo puts back. Databricks never gives a
    token back, so a previous credential's token cannot be: the undo says so."""

    kind = "git-provider"
    ref_field = "workspace"
    workspace: str
    previous: str
    previous_username: str = ""
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        def host() -> DatabricksHost:
            return workspace_host(ctx, self.workspace, self.host, self.workspace_id)

        if not self.previous:
            ignore_missing(lambda: ctx.target.databricks.set_git_provider(host(), None))
            return
        ignore_missing(lambda: ctx.target.databricks.set_git_provider(
            host(), GitCredential(self.previous, self.previous_username)))
        ctx.log(f"Git credential of {self.workspace} is {self.previous} again; if it had a "
                "token, enter it again under User Settings → Git Integration")


@dataclass(frozen=True)
class GitFolder(Record):
    """A Git folder the step cloned (`previous_branch` empty: the undo deletes it) or moved
    to the attendee's branch from `previous_branch` (the undo checks that one out again)."""

    kind = "git-folder"
    ref_field = "path"
    path: str
    workspace: str
    previous_branch: str = ""
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        databricks = ctx.target.databricks

        def host() -> DatabricksHost:
            return workspace_host(ctx, self.workspace, self.host, self.workspace_id)

        if not self.previous_branch:
            ignore_missing(lambda: databricks.delete_git_folder(host(), self.path))
            return
        ignore_missing(lambda: databricks.update_git_folder(
            host(), self.path, self.previous_branch))


@dataclass(frozen=True)
class NotebookLink(Record):
    """A notebook linked to a repository path by a labtui older than Git folders; `previous`
    is the link it had. Workspaces link whole folders now (see `GitFolder`), so there is no
    single notebook's link left to restore: the undo says so and changes nothing."""

    kind = "notebook-link"
    ref_field = "path"
    path: str
    workspace: str
    previous: tuple[str, ...] = ()

    def undo(self, ctx: StepContext) -> None:
        ctx.log(f"{self.path} in {self.workspace} was linked to a repository by an older "
                "labtui; notebooks run from Git folders now, so there is no link to undo")

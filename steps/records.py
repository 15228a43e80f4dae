"""The lab's journal records: every kind of thing its steps create, and how each is undone.

Each record is what a step journals *before* it creates something, holding all its undo
needs, so that a rollback works from the journal alone (even once the step that made it is no
longer installed). A Databricks record holds the workspace's name and its data plane's `host`
and `workspace_id`; one written before hosts holds the name only, resolved when undone.
Kinds and field names are stored in state.db: they never change. What a record removes may
already be gone; that is fine.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labtui_steps.images import remove_image_and_containers, remove_verify_servers
from labtui_steps.pipeline_undo import delete_pipeline, remove_from_branch, repository_of

from labtui.journal import Record
from labtui.step import StepContext, StepError
from labtui.targets.base import GitRepository, Library, NotFound
from labtui.targets.resources import (
    DATABRICKS_WORKSPACES,
    KEY_VAULTS,
    ML_WORKSPACES,
    STORAGE_ACCOUNTS,
    DatabricksHost,
    GitCredential,
    MalformedResourceId,
    ResourceRef,
)


def ignore_missing(action: Callable[[], object]) -> None:
    """Run an undo action; what it would remove being already gone is fine."""
    try:
        action()
    except NotFound:
        return


def control_ref(ctx: StepContext, resource: str, type: str) -> ResourceRef:
    """The ref a control-plane record names: its resource id, or for an entry journaled
    before resource ids (a bare name) the name in the environment's resource group."""
    if resource.startswith("/"):
        try:
            return ResourceRef.parse(resource)
        except MalformedResourceId as exc:
            raise StepError(f"the journal entry is damaged: {exc}") from None
    group = ctx.values.get("resource-group", "")
    if not group:
        raise StepError(f"the journal names {resource} without its resource group (an entry "
                        "written before resource ids): give resource-group to remove it")
    return ctx.target.ref(group, type, resource)


def workspace_host(ctx: StepContext, workspace: str, host: str, workspace_id: str
                   ) -> DatabricksHost:
    """The host a Databricks record addresses its workspace's data plane by; for an entry
    written before hosts (only the workspace's name), the host of that workspace in the
    environment's resource group. Raises NotFound when that workspace is gone."""
    if host:
        return DatabricksHost(host, workspace_id)
    return ctx.target.databricks.get_workspace(
        control_ref(ctx, workspace, DATABRICKS_WORKSPACES)).host


def vault_uri(ctx: StepContext, vault: str) -> str | None:
    """The URI a secret's record addresses its vault by; for an entry written before vaults
    were addressed by URI (a bare name), the URI of that vault in the environment's resource
    group, or None when that vault is gone."""
    if vault.startswith("https://"):
        return vault
    try:
        return ctx.target.vault.get_vault(control_ref(ctx, vault, KEY_VAULTS)).uri
    except NotFound:
        return None


def datalake_endpoint(ctx: StepContext, account: str) -> str:
    """The DFS endpoint a data lake record addresses its account by; for an entry written
    before the data lake was addressed by endpoint (a bare account name), that account's."""
    return account if account.startswith("https://") else ctx.target.datalake.dfs_endpoint(
        account)


# --- Infrastructure -----------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceGroup(Record):
    kind = "resource-group"
    name: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.resource_groups.delete(self.name)


@dataclass(frozen=True)
class MlWorkspace(Record):
    """Journaled by its resource id (entries from before resource ids hold its name)."""

    kind = "ml-workspace"
    ref_field = "resource"
    resource: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.models.delete_workspace(control_ref(ctx, self.resource, ML_WORKSPACES))


@dataclass(frozen=True)
class StorageAccount(Record):
    """Journaled by its resource id (entries from before resource ids hold its name)."""

    kind = "storage-account"
    ref_field = "resource"
    resource: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.datalake.delete_account(control_ref(ctx, self.resource, STORAGE_ACCOUNTS))


@dataclass(frozen=True)
class FileSystem(Record):
    """A file system of the data lake; `account` is the account's DFS endpoint (a bare account
    name in entries written before)."""

    kind = "file-system"
    name: str
    account: str

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.datalake.delete_file_system(
            datalake_endpoint(ctx, self.account), self.name))


@dataclass(frozen=True)
class DatalakeFile(Record):
    """A file uploaded to the data lake; `account` as in `FileSystem`."""

    kind = "datalake-file"
    ref_field = "path"
    path: str
    account: str
    file_system: str

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.datalake.delete_file(
            datalake_endpoint(ctx, self.account), self.file_system, self.path))


@dataclass(frozen=True)
class KeyVault(Record):
    """Journaled by its resource id (entries from before resource ids hold its name)."""

    kind = "key-vault"
    ref_field = "resource"
    resource: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.vault.delete_vault(control_ref(ctx, self.resource, KEY_VAULTS))


@dataclass(frozen=True)
class DatabricksWorkspace(Record):
    """Journaled by its resource id (entries from before resource ids hold its name)."""

    kind = "databricks-workspace"
    ref_field = "resource"
    resource: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.databricks.delete_workspace(
            control_ref(ctx, self.resource, DATABRICKS_WORKSPACES))


@dataclass(frozen=True)
class Cluster(Record):
    """A cluster, journaled by name (its id is known only once it exists)."""

    kind = "cluster"
    name: str
    workspace: str
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        databricks = ctx.target.databricks

        def remove() -> None:
            host = workspace_host(ctx, self.workspace, self.host, self.workspace_id)
            for cluster in databricks.clusters(host):
                if cluster.name == self.name:
                    databricks.delete_cluster(host, cluster.cluster_id)

        ignore_missing(remove)


@dataclass(frozen=True)
class ClusterLibraries(Record):
    """Libraries installed on a cluster that existed before: `libraries` are pip specs,
    comma-separated."""

    kind = "cluster-libraries"
    ref_field = "cluster_id"
    cluster_id: str
    workspace: str
    libraries: str
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        libraries = [Library("pypi", spec) for spec in self.libraries.split(",")]
        ignore_missing(lambda: ctx.target.databricks.uninstall_libraries(
            workspace_host(ctx, self.workspace, self.host, self.workspace_id),
            self.cluster_id, libraries))


@dataclass(frozen=True)
class ClusterAutotermination(Record):
    """A cluster that existed before, set to terminate after the lab's idle minutes;
    `previous` is its own setting (minutes, as text), which the undo puts back."""

    kind = "cluster-autotermination"
    ref_field = "cluster_id"
    cluster_id: str
    workspace: str
    previous: str
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.databricks.edit_cluster(
            workspace_host(ctx, self.workspace, self.host, self.workspace_id),
            self.cluster_id, autotermination_minutes=int(self.previous)))


@dataclass(frozen=True)
class DatabricksProfile(Record):
    kind = "databricks-profile"
    name: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.workstation.delete_profile(self.name)


@dataclass(frozen=True)
class DatabricksToken(Record):
    """A personal access token, journaled by its comment (its id is known only once it
    exists)."""

    kind = "databricks-token"
    ref_field = "comment"
    comment: str
    workspace: str
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        databricks = ctx.target.databricks

        def revoke() -> None:
            host = workspace_host(ctx, self.workspace, self.host, self.workspace_id)
            for token in databricks.tokens(host):
                if token.comment == self.comment:
                    databricks.delete_token(host, token.token_id)

        ignore_missing(revoke)


@dataclass(frozen=True)
class ServicePrincipal(Record):
    kind = "service-principal"
    name: str

    def undo(self, ctx: StepContext) -> None:
        principals = ctx.target.principals
        try:
            principal = principals.find_service_principal(self.name)
        except NotFound:
            return
        principals.delete_service_principal(principal.app_id)


@dataclass(frozen=True)
class DatalakeAcl(Record):
    """The ACL entries (access and default) a principal was given on a file system's root;
    `account` as in `FileSystem`."""

    kind = "datalake-acl"
    ref_field = "object_id"
    object_id: str
    account: str
    file_system: str

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.datalake.remove_acl(
            datalake_endpoint(ctx, self.account), self.file_system, "", self.object_id))


@dataclass(frozen=True)
class RoleAssignment(Record):
    """A role given to a principal on a scope; listed as "ROLE on NAME"."""

    kind = "role-assignment"
    ref_field = "assignment"
    assignment: str
    principal: str
    role: str
    scope: str

    def undo(self, ctx: StepContext) -> None:
        principals = ctx.target.principals
        for assignment in principals.role_assignments(self.scope):
            if assignment.principal_id == self.principal and assignment.role == self.role:
                principals.remove_role_assignment(assignment.id)


@dataclass(frozen=True)
class SecretScope(Record):
    kind = "secret-scope"
    name: str
    workspace: str
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.databricks.delete_secret_scope(
            workspace_host(ctx, self.workspace, self.host, self.workspace_id), self.name))


@dataclass(frozen=True)
class VaultSecret(Record):
    """A secret the step set: deleted, then purged, since a soft-deleted secret would block
    the next run from setting it."""

    kind = "vault-secret"
    name: str
    vault: str
    """The vault's URI (entries from before hold the vault's name)."""

    def undo(self, ctx: StepContext) -> None:
        uri = vault_uri(ctx, self.vault)
        if uri is None:
            return  # the vault is gone, and its secrets with it
        # It may be soft-deleted already (by hand), and then only the purge is left to do.
        ignore_missing(lambda: ctx.target.vault.delete_secret(uri, self.name))
        ignore_missing(lambda: ctx.target.vault.purge_deleted_secret(uri, self.name))


@dataclass(frozen=True)
class RecoveredSecret(Record):
    """Someone else's deleted secret the step recovered: the undo deletes it again, leaving
    it recoverable as it was."""

    kind = "recovered-secret"
    name: str
    vault: str
    """The vault's URI (entries from before hold the vault's name)."""

    def undo(self, ctx: StepContext) -> None:
        uri = vault_uri(ctx, self.vault)
        if uri is not None:
            ignore_missing(lambda: ctx.target.vault.delete_secret(uri, self.name))


# --- Azure DevOps ---------------------------------------------------------------------------


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


# --- Dev loop -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notebook(Record):
    kind = "notebook"
    ref_field = "path"
    path: str
    workspace: str
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.databricks.delete_notebook(
            workspace_host(ctx, self.workspace, self.host, self.workspace_id), self.path))


@dataclass(frozen=True)
class Experiment(Record):
    """The runs (metrics, parameters, model files) the notebook logged to the experiment
    named after its path."""

    kind = "experiment"
    ref_field = "path"
    path: str
    workspace: str

    def undo(self, ctx: StepContext) -> None:
        try:
            if ctx.target.models.delete_experiment(self.workspace, self.path):
                ctx.log(f"removed the runs of experiment {self.path}")
        except NotFound:
            return


@dataclass(frozen=True)
class Model(Record):
    """A registered model, every version of it."""

    kind = "model"
    ref_field = None
    workspace: str
    name: str

    @property
    def ref(self) -> str:
        return f"{self.workspace}/{self.name}"

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.models.delete_model(self.workspace, self.name))


@dataclass(frozen=True)
class ReferenceTest(Record):
    """The reference unit test added to the attendee's test file; `original` is the file as
    it was, which the undo puts back."""

    kind = "reference-test"
    ref_field = "path"
    path: str
    original: str

    def undo(self, ctx: StepContext) -> None:
        path = Path(self.path)
        if path.parent.exists():
            path.write_text(self.original, encoding="utf-8")


@dataclass(frozen=True)
class Image(Record):
    """The inference image: the undo removes its verify's scoring servers, the containers
    made from it, and what earlier builds left behind."""

    kind = "image"
    ref_field = "tag"
    tag: str

    def undo(self, ctx: StepContext) -> None:
        remove_verify_servers(ctx)
        remove_image_and_containers(ctx, self.tag)


@dataclass(frozen=True)
class TestImage(Record):
    """The inference image extended with the tests, and the containers made from it."""

    __test__ = False  # not a pytest test class, whatever its name
    kind = "test-image"
    ref_field = "tag"
    tag: str

    def undo(self, ctx: StepContext) -> None:
        remove_image_and_containers(ctx, self.tag)


@dataclass(frozen=True)
class Container(Record):
    kind = "container"
    name: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.containers.remove_container(self.name)


# --- Pipelines ------------------------------------------------------------------------------


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

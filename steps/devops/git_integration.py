"""`git-integration`: the attendee's branch, their Databricks Git credential, and a Git folder
of the repository checked out on the branch, so the notebook runs from Git.
"""

from __future__ import annotations

from labtui_steps.databricks_host import databricks_host, host_fields
from labtui_steps.devops import records
from labtui_steps.devops.common import (
    NOTEBOOK_REPO_PATH,
    git_folder_path,
    notebook_path,
    repository,
    working_copy_path,
)
from labtui_steps.fields import (
    BRANCH,
    DATABRICKS_WORKSPACE,
    DEVOPS_ORGANIZATION,
    DEVOPS_PROJECT,
    DEVOPS_TOKEN,
    GIT_USERNAME,
    PREFIX,
)

from labtui.step import Check, Step, StepContext, StepError, Verdict
from labtui.targets.base import NotFound
from labtui.targets.resources import GitCredential

GIT_PROVIDER = "azureDevOpsServices"


class GitIntegration(Step):
    """The attendee's branch exists, their Git credential is set, and a Git folder of the
    repository is checked out on the branch."""

    id = "git-integration"
    place = 3
    title = "Link the Databricks notebook to your branch"
    section = "Azure DevOps"
    summary = ("Set your Databricks Git credential to Azure DevOps Services, create your branch, "
               "and clone the repository into a Git folder (/Repos/<you>/<repository>) checked "
               f"out on it, so that {NOTEBOOK_REPO_PATH} runs from Git.")
    requires = ("seed-repo", "databricks")
    environment = "dev"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, DEVOPS_TOKEN, BRANCH, GIT_USERNAME,
              DATABRICKS_WORKSPACE)

    def run(self, ctx: StepContext) -> None:
        repo = repository(ctx)
        branch = ctx.value("branch")
        copy = ctx.target.workstation.working_copy(repo, working_copy_path(ctx))
        copy.fetch()
        if copy.remote_head(branch) is None:
            ctx.journal.record(records.Branch(branch, organization=repo.organization,
                                              project=repo.project, repository=repo.name))
            copy.checkout(branch, start="origin/master")
            copy.push(branch)
            ctx.log(f"created branch {branch} from master")
        else:
            copy.checkout(branch)
        databricks = ctx.target.databricks
        workspace, user = ctx.value("databricks-workspace"), ctx.value("git-username")
        host = databricks_host(ctx)
        # Journal what was there before, once (a rerun must not overwrite it with our own
        # setting), so rollback restores the attendee's previous credential and folder.
        current = databricks.git_provider(host)
        token = ctx.values.get("devops-token") or None
        if token is not None or current is None or (current.provider, current.username) != (
                GIT_PROVIDER, user):
            ctx.journal.record_once(records.GitProvider(
                workspace, previous=current.provider if current else "",
                previous_username=current.username if current else "", **host_fields(host)))
            databricks.set_git_provider(host, GitCredential(GIT_PROVIDER, user, token))
            ctx.log(f"Git credential: {GIT_PROVIDER} as {user}"
                    + (" with your personal access token" if token else ""))
        path = git_folder_path(ctx)
        try:
            folder = databricks.git_folder(host, path)
        except NotFound:
            ctx.journal.record_once(records.GitFolder(path, workspace=workspace,
                                                      **host_fields(host)))
            folder = databricks.create_git_folder(host, path, repo.web_url, GIT_PROVIDER)
            ctx.log(f"Git folder {path}: a clone of {repo.web_url}")
        if folder.url != repo.web_url:
            raise StepError(f"the Git folder {path} is a clone of {folder.url}, not of "
                            f"{repo.web_url}: remove it in the workspace, or choose another "
                            "git-username")
        if folder.branch != branch:
            ctx.journal.record_once(records.GitFolder(path, workspace=workspace,
                                                      previous_branch=folder.branch,
                                                      **host_fields(host)))
        folder = databricks.update_git_folder(host, path, branch)
        ctx.log(f"Git folder {path} on {branch} at {folder.head_commit[:10]}: the notebook is "
                f"{notebook_path(ctx)}")

    def verify(self, ctx: StepContext) -> Verdict:
        branch = ctx.value("branch")
        try:
            repo = repository(ctx)
            branches = ctx.target.devops.branches(repo)
        except NotFound as exc:
            return Verdict.of(Check("repository", False, str(exc), "run seed-repo first"))
        checks = [Check("branch", branch in branches,
                        f"branch {branch}" + ("" if branch in branches else " does not exist"),
                        "run this step")]
        databricks, user = ctx.target.databricks, ctx.value("git-username")
        path = git_folder_path(ctx)
        try:
            host = databricks_host(ctx)
            credential = databricks.git_provider(host)
        except NotFound as exc:
            checks.append(Check("git folder", False, str(exc), "run the databricks step"))
            return Verdict(tuple(checks))
        ok = credential is not None and (credential.provider, credential.username) == (
            GIT_PROVIDER, user)
        checks.append(Check(
            "git credential", ok,
            f"{credential.provider} as {credential.username or '(no user name)'}"
            if credential else "no Git credential",
            f"User Settings → Git Integration → {GIT_PROVIDER}, user name {user}"))
        try:
            folder = databricks.git_folder(host, path)
        except NotFound as exc:
            checks.append(Check("git folder", False, str(exc), "run this step"))
            return Verdict(tuple(checks))
        checks.append(Check(
            "git folder", (folder.url, folder.branch) == (repo.web_url, branch),
            f"{path} on {folder.branch} at {folder.head_commit[:10]}"
            if folder.url == repo.web_url else f"{path} is a clone of {folder.url}",
            "run this step again"))
        try:
            databricks.notebook_source(host, notebook_path(ctx))
            checks.append(Check("notebook", True, notebook_path(ctx)))
        except NotFound:
            checks.append(Check("notebook", False, f"no notebook {notebook_path(ctx)} on "
                                f"{folder.branch}", f"push {NOTEBOOK_REPO_PATH} to {branch}"))
        return Verdict(tuple(checks))

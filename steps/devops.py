"""The lab's "Azure DevOps" section: the project, the seeded repository, the Git integration.

The lab creates a project (Git, Agile), initializes its repository, seeds it with the lab's
Project_One / Project_One-Tests layout, and links the Databricks notebook to a branch named
after the attendee. labtui does each through the DevOps and Databricks ports.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from labtui_steps import records
from labtui_steps.databricks_host import databricks_host, host_fields
from labtui_steps.fields import (
    BRANCH,
    DATABRICKS_WORKSPACE,
    DEVOPS_ORGANIZATION,
    DEVOPS_PROJECT,
    DEVOPS_TOKEN,
    GIT_USERNAME,
    PREFIX,
)

from labtui.step import Change, Check, Step, StepContext, StepError, Verdict
from labtui.targets.base import GitRepository, NotFound
from labtui.targets.resources import GitCredential

SEED_CONTENT = ("Project_One", "Project_One-Tests")
"""What the lab copies from its repository into the attendee's (everything but .git)."""
SEED_GITIGNORE = "gitignore"
"""The lab repository's .gitignore, kept in the assets without its dot (a .gitignore there
would act on labtui's own repository)."""
SEED_SCRIPTS = ("Project_One/runbuild_local.sh", "Project_One-Tests/runtests_local.sh")
SEED_MESSAGE = "initial repo seed"
NOTEBOOK_REPO_PATH = "Project_One/notebooks/train_model.py"
NOTEBOOK_WORKSPACE_PATH = "/Shared/Project_One/train_model"
"""Where labtui imported the notebook before it ran it from the Git folder (journal entries of
older runs name it)."""
GIT_PROVIDER = "azureDevOpsServices"
EXPECTED_FILES = (
    ".gitignore",
    "Project_One/score.py",
    "Project_One/inference_code/model_class.py",
    "Project_One/runbuild_local.cmd",
    NOTEBOOK_REPO_PATH,
    "Project_One-Tests/test_model.py",
    "Project_One-Tests/runtests_local.cmd",
)


def organization(ctx: StepContext) -> str:
    """The organization's name: the last part of its address (https://dev.azure.com/NAME)."""
    return ctx.value("devops-organization").rstrip("/").rsplit("/", 1)[-1]


def repository(ctx: StepContext) -> GitRepository:
    """The lab repository (named like its project, as Azure DevOps does)."""
    project = ctx.value("devops-project")
    return ctx.target.devops.get_repository(organization(ctx), project, project)


def working_copy_path(ctx: StepContext) -> Path:
    """Where the attendee's clone lives: `<workspace>/repos/<project>`."""
    return ctx.target.workstation.clone_folder(ctx.value("devops-project"))


def git_folder_path(ctx: StepContext) -> str:
    """The attendee's Git folder of the lab repository: `/Repos/<user>/<repository>`."""
    return f"/Repos/{ctx.value('git-username')}/{ctx.value('devops-project')}"


def notebook_path(ctx: StepContext) -> str:
    """The training notebook inside the Git folder (a notebook's path has no `.py`)."""
    return f"{git_folder_path(ctx)}/{NOTEBOOK_REPO_PATH.removesuffix('.py')}"


def assets_root() -> Path:
    import labtui_assets

    return labtui_assets.root()


class DevOpsProject(Step):
    """Create the DevOps project (Git, Agile) and its repository."""

    id = "devops-project"
    title = "Create the Azure DevOps project"
    section = "Azure DevOps"
    summary = ("A project with Git version control and the Agile process, and its repository, "
               "where the team's code, pull requests and pipelines live.")
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, DEVOPS_TOKEN)

    def run(self, ctx: StepContext) -> None:
        organization_name, name = organization(ctx), ctx.value("devops-project")
        devops = ctx.target.devops
        # A project or repository that existed before is the attendee's: not journaled, so a
        # rollback never removes it.
        try:
            devops.get_project(organization_name, name)
        except NotFound:
            ctx.journal.record_once(records.DevOpsProject(organization_name, name))
        project = devops.create_project(organization_name, name, process="Agile",
                                        description="Databricks ML DevOps hands-on lab")
        ctx.log(f"project {project.organization}/{project.name} ({project.process}, "
                f"{project.version_control})")
        try:
            devops.get_repository(organization_name, name, name)
        except NotFound:
            ctx.journal.record_once(records.DevOpsRepository(organization_name, name, name))
        repo = devops.create_repository(organization_name, name, name)
        ctx.log(f"repository {repo.name}: clone from {repo.web_url}")
        ctx.outputs.set("clone-url", repo.clone_url)

    def verify(self, ctx: StepContext) -> Verdict:
        organization_name, name = organization(ctx), ctx.value("devops-project")
        try:
            project = ctx.target.devops.get_project(organization_name, name)
        except NotFound:
            return Verdict.of(Check("project", False, f"project {organization_name}/{name} does "
                                    "not exist", "run this step"))
        checks = [
            Check("project", True, f"{organization_name}/{name}"),
            Check("process", project.process == "Agile", f"work item process {project.process}",
                  "create the project with the Agile process"),
            Check("version control", project.version_control == "Git",
                  f"version control {project.version_control}", "the lab needs Git"),
        ]
        try:
            repository(ctx)
            checks.append(Check("repository", True, name))
        except NotFound:
            checks.append(Check("repository", False, f"repository {name} does not exist",
                                "run this step again"))
        return Verdict(tuple(checks))

    def plan(self, ctx: StepContext) -> list[Change]:
        organization_name, name = organization(ctx), ctx.value("devops-project")
        verdict = self.verify(ctx)
        if verdict.ok:
            return [Change("keep", "devops-project", f"{organization_name}/{name}")]
        return [Change("create", "devops-project", f"{organization_name}/{name}", "Git, Agile"),
                Change("create", "repository", name)]


class SeedRepo(Step):
    """Push the lab's Project_One / Project_One-Tests layout to the repository's master."""

    id = "seed-repo"
    title = "Seed the repository with the lab's code"
    section = "Azure DevOps"
    summary = ("Clone the new repository, copy in Project_One, Project_One-Tests (with the "
               "runbuild_local / runtests_local scripts) and the .gitignore, commit "
               "'initial repo seed' and push master.")
    requires = ("devops-project",)
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT)

    def run(self, ctx: StepContext) -> None:
        repo = repository(ctx)
        path = working_copy_path(ctx)
        ctx.journal.record(records.WorkingCopy(str(path)))
        copy = ctx.target.workstation.working_copy(repo, path)
        ctx.log(f"clone {repo.web_url} into {path}")
        copy.repo()
        if copy.remote_head("master"):
            copy.fetch()
        copy.checkout("master", start="origin/master" if copy.remote_head("master") else None)
        copy.copy_in(assets_root(), SEED_CONTENT)
        shutil.copyfile(assets_root() / SEED_GITIGNORE, copy.path / ".gitignore")
        for script in SEED_SCRIPTS:  # a wheel may not keep the executable bit
            (copy.path / script).chmod(0o755)
        commit = copy.commit_all(SEED_MESSAGE)
        ctx.log(f"committed {commit[:10]}: {SEED_MESSAGE}" if commit else "nothing new to commit")
        ctx.check_cancelled()
        if copy.remote_head("master") is None:
            # Journaled once, by the run that creates master: a later run must not record
            # the seed's own master as one that "existed before".
            ctx.journal.record_once(records.Branch(
                "master", organization=repo.organization, project=repo.project,
                repository=repo.name, before=""))
        pushed = copy.push("master")
        ctx.log("pushed master" if pushed else "master is up to date: pushed nothing")

    def verify(self, ctx: StepContext) -> Verdict:
        try:
            repo = repository(ctx)
            branches = ctx.target.devops.branches(repo)
        except NotFound as exc:
            return Verdict.of(Check("repository", False, str(exc), "run devops-project first"))
        if "master" not in branches:
            return Verdict.of(Check("master", False, "master has no commits yet",
                                    "run this step"))
        copy = ctx.target.workstation.working_copy(repo, working_copy_path(ctx))
        if not copy.exists:
            return Verdict.of(Check("working copy", False, f"no clone at {copy.path}",
                                    "run this step again"))
        copy.fetch()
        files = set(copy.files("origin/master"))
        missing = [name for name in EXPECTED_FILES if name not in files]
        return Verdict.of(
            Check("master", True, f"at {branches['master'][:10]}"),
            Check("lab content", not missing,
                  f"missing {', '.join(missing)}" if missing else
                  f"{len(files)} files incl. Project_One and Project_One-Tests",
                  "run this step again with --force"),
            Check("working copy", True, str(copy.path)),
        )


class GitIntegration(Step):
    """The attendee's branch exists, their Git credential is set, and a Git folder of the
    repository is checked out on the branch."""

    id = "git-integration"
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

"""The lab's "Azure DevOps" section: the project, the seeded repository, the Git integration.

The lab creates a project (Git, Agile), initializes its repository, seeds it with the lab's
Project_One / Project_One-Tests layout, and links the Databricks notebook to a branch named
after the attendee. labtui does each through the DevOps and Databricks ports.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from labtui_steps import records
from labtui_steps.fields import (
    BRANCH,
    DATABRICKS_WORKSPACE,
    DEVOPS_ORGANIZATION,
    DEVOPS_PROJECT,
    DEVOPS_TOKEN,
    PREFIX,
)

from labtui.step import Change, Check, Step, StepContext, Verdict
from labtui.targets.base import GitRepository, NotFound

SEED_CONTENT = ("Project_One", "Project_One-Tests")
"""What the lab copies from its repository into the attendee's (everything but .git)."""
SEED_GITIGNORE = "gitignore"
"""The lab repository's .gitignore, kept in the assets without its dot (a .gitignore there
would act on labtui's own repository)."""
SEED_SCRIPTS = ("Project_One/runbuild_local.sh", "Project_One-Tests/runtests_local.sh")
SEED_MESSAGE = "initial repo seed"
NOTEBOOK_REPO_PATH = "Project_One/notebooks/train_model.py"
NOTEBOOK_WORKSPACE_PATH = "/Shared/Project_One/train_model"
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
    """The attendee's branch exists and the Databricks notebook is linked to it."""

    id = "git-integration"
    title = "Link the Databricks notebook to your branch"
    section = "Azure DevOps"
    summary = ("Set the Databricks Git provider to Azure DevOps Services, create your branch, and "
               f"link {NOTEBOOK_WORKSPACE_PATH} to {NOTEBOOK_REPO_PATH} on it.")
    requires = ("seed-repo", "databricks")
    environment = "dev"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, BRANCH, DATABRICKS_WORKSPACE)

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
        workspace = ctx.value("databricks-workspace")
        # Journal what was there before, once (a rerun must not overwrite it with our own
        # setting), so rollback restores the attendee's previous provider and link.
        provider = databricks.git_provider(workspace)
        if provider != GIT_PROVIDER:
            ctx.journal.record_once(records.GitProvider(workspace, previous=provider or ""))
            databricks.set_git_provider(workspace, GIT_PROVIDER)
            ctx.log(f"Git provider: {GIT_PROVIDER}")
        link = databricks.notebook_link(workspace, NOTEBOOK_WORKSPACE_PATH)
        wanted = (repo.web_url, branch, NOTEBOOK_REPO_PATH)
        if link != wanted:
            ctx.journal.record_once(records.NotebookLink(
                NOTEBOOK_WORKSPACE_PATH, workspace=workspace, previous=tuple(link or ())))
            databricks.link_notebook(workspace, NOTEBOOK_WORKSPACE_PATH, *wanted)
        ctx.log(f"linked {NOTEBOOK_WORKSPACE_PATH} to {NOTEBOOK_REPO_PATH} on {branch}")

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
        workspace = ctx.value("databricks-workspace")
        try:
            provider = ctx.target.databricks.git_provider(workspace)
            link = ctx.target.databricks.notebook_link(workspace, NOTEBOOK_WORKSPACE_PATH)
        except NotFound as exc:
            checks.append(Check("notebook link", False, str(exc), "run this step"))
            return Verdict(tuple(checks))
        checks.append(Check("git provider", provider == GIT_PROVIDER,
                            f"provider {provider or 'not set'}",
                            "User Settings → Git Integration → Azure DevOps Services"))
        expected = (repo.web_url, branch, NOTEBOOK_REPO_PATH)
        checks.append(Check("notebook link", link == expected,
                            f"{NOTEBOOK_WORKSPACE_PATH} → {link[2]} on {link[1]}" if link
                            else "the notebook is not linked", "run this step again"))
        return Verdict(tuple(checks))

"""What the Azure DevOps steps share: where the lab's repository, the attendee's clone and
their Git folder are, and the notebook's path in each.
"""

from __future__ import annotations

from pathlib import Path

from labtui.step import StepContext
from labtui.targets.base import GitRepository

NOTEBOOK_REPO_PATH = "Project_One/notebooks/train_model.py"
NOTEBOOK_WORKSPACE_PATH = "/Shared/Project_One/train_model"
"""Where labtui imported the notebook before it ran it from the Git folder (journal entries of
older runs name it)."""


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

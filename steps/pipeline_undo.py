"""The undo the Pipelines section's journal records share (`pipelines.records` and
`pipelines.release_records`, and the Azure DevOps section's `branch` record): they name a
repository or a pipeline by organization, project and name, and remove what a step committed
to a shared branch with a new commit, never a rewrite of its history."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from labtui.step import StepContext
from labtui.targets.base import GitRepository, NotFound


def repository_of(ctx: StepContext, organization: str, project: str,
                  name: str) -> GitRepository | None:
    """The repository a record names, or None if it is gone already."""
    try:
        return ctx.target.devops.get_repository(organization, project, name)
    except NotFound:
        return None


def remove_from_branch(ctx: StepContext, repo: GitRepository, branch: str,
                       paths: Sequence[str], message: str) -> tuple[list[str], str] | None:
    """Remove the files `paths` (and a folder they leave empty) from `branch` with one new
    commit, in a clone of its own (the attendee's working copy stays as it is).

    Returns:
        The paths that were there and the commit removing them; None when none was there
        (nothing is committed).
    """
    with tempfile.TemporaryDirectory(prefix="labtui-undo-") as folder:
        copy = ctx.target.workstation.working_copy(repo, Path(folder) / "clone")
        copy.repo()
        copy.checkout(branch)
        present = [path for path in paths if (copy.path / path).exists()]
        if not present:
            return None
        for path in present:
            target = copy.path / path
            target.unlink()
            if target.parent != copy.path and not any(target.parent.iterdir()):
                target.parent.rmdir()
        commit = copy.commit_all(message)
        copy.push(branch)
        return present, commit or ""


def delete_pipeline(ctx: StepContext, organization: str, project: str,
                    name: str) -> int | None:
    """Delete the pipeline `name` with its runs: how many runs it had, or None when there
    was no such pipeline."""
    pipelines = ctx.target.pipelines
    try:
        pipeline = pipelines.get(organization, project, name)
        runs = len(pipelines.runs(pipeline))
    except NotFound:
        return None
    return runs if pipelines.delete(pipeline) else None

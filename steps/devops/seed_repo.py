"""`seed-repo`: the lab's Project_One / Project_One-Tests layout pushed to the repository's
master, from the attendee's clone.
"""

from __future__ import annotations

import shutil

from labtui_steps.devops import records
from labtui_steps.devops.common import (
    NOTEBOOK_REPO_PATH,
    assets_root,
    repository,
    working_copy_path,
)
from labtui_steps.fields import DEVOPS_ORGANIZATION, DEVOPS_PROJECT, PREFIX

from labtui.step import Check, Step, StepContext, Verdict
from labtui.targets.base import NotFound

SEED_CONTENT = ("Project_One", "Project_One-Tests")
"""What the lab copies from its repository into the attendee's (everything but .git)."""
SEED_GITIGNORE = "gitignore"
"""The lab repository's .gitignore, kept in the assets without its dot (a .gitignore there
would act on labtui's own repository)."""
SEED_SCRIPTS = ("Project_One/runbuild_local.sh", "Project_One-Tests/runtests_local.sh")
SEED_MESSAGE = "initial repo seed"


EXPECTED_FILES = (
    ".gitignore",
    "Project_One/score.py",
    "Project_One/inference_code/model_class.py",
    "Project_One/runbuild_local.cmd",
    NOTEBOOK_REPO_PATH,
    "Project_One-Tests/test_model.py",
    "Project_One-Tests/runtests_local.cmd",
)


class SeedRepo(Step):
    """Push the lab's Project_One / Project_One-Tests layout to the repository's master."""

    id = "seed-repo"
    place = 2
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

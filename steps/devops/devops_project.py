"""`devops-project`: the Azure DevOps project (Git, Agile) and its repository."""

from __future__ import annotations

from labtui_steps.devops import records
from labtui_steps.devops.common import organization, repository
from labtui_steps.fields import DEVOPS_ORGANIZATION, DEVOPS_PROJECT, DEVOPS_TOKEN, PREFIX

from labtui.step import Change, Check, Step, StepContext, Verdict
from labtui.targets.base import NotFound


class DevOpsProject(Step):
    """Create the DevOps project (Git, Agile) and its repository."""

    id = "devops-project"
    place = 1
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

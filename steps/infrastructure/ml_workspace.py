"""The `ml-workspace` step: the Machine Learning workspace, the model registry of an environment."""

from __future__ import annotations

from labtui_steps.fields import (
    LOCATION,
    ML_WORKSPACE,
    PREFIX,
    RESOURCE_GROUP,
)
from labtui_steps.infrastructure import records
from labtui_steps.infrastructure.common import (
    InfrastructureStep,
    exists,
    resource_ref,
)

from labtui.step import (
    Change,
    Check,
    StepContext,
    Verdict,
)
from labtui.targets.base import (
    NotFound,
)
from labtui.targets.resources import (
    ML_WORKSPACES,
)


class MlWorkspace(InfrastructureStep):
    """The Machine Learning workspace: the model registry of the environment."""

    id = "ml-workspace"
    place = 2
    title = "Add the Machine Learning workspace"
    summary = "A Machine Learning service workspace per environment (the model registry)."
    requires = ("resource-groups",)
    inputs = (PREFIX, LOCATION, RESOURCE_GROUP, ML_WORKSPACE)

    def run(self, ctx: StepContext) -> None:
        name = ctx.value("ml-workspace-name")
        ref = resource_ref(ctx, ML_WORKSPACES, "ml-workspace-name")
        models = ctx.target.models
        try:
            models.get_workspace(ref)
            ctx.log(f"ML workspace {name} exists already")
        except NotFound:
            ctx.journal.record_once(records.MlWorkspace(ref.id))
            ctx.log(f"create ML workspace {name}")
        models.create_workspace(ref, ctx.value("location"))

    def verify(self, ctx: StepContext) -> Verdict:
        name, group = ctx.value("ml-workspace-name"), ctx.value("resource-group")
        try:
            ctx.target.models.get_workspace(resource_ref(ctx, ML_WORKSPACES, "ml-workspace-name"))
        except NotFound:
            return Verdict.of(Check("ML workspace", False,
                                    f"{name} does not exist in resource group {group}",
                                    "run this step to create it"))
        return Verdict.of(Check("ML workspace", True))

    def plan(self, ctx: StepContext) -> list[Change]:
        name = ctx.value("ml-workspace-name")
        ref = resource_ref(ctx, ML_WORKSPACES, "ml-workspace-name")
        return [Change("keep" if exists(lambda: ctx.target.models.get_workspace(ref))
                       else "create", "ML workspace", name)]

"""The `resource-groups` step: {prefix}-db-dev, -db-pipeline and -db-prod."""

from __future__ import annotations

from collections.abc import Sequence

from labtui_steps.fields import (
    LOCATION,
    PREFIX,
    RESOURCE_GROUP,
)
from labtui_steps.infrastructure import records
from labtui_steps.infrastructure.common import (
    InfrastructureStep,
    check_that,
)

from labtui.step import (
    ENVIRONMENTS,
    Change,
    Check,
    StepContext,
    Verdict,
)
from labtui.targets.base import (
    NotFound,
)


class ResourceGroups(InfrastructureStep):
    """{prefix}-db-dev, {prefix}-db-pipeline and {prefix}-db-prod."""

    id = "resource-groups"
    place = 1
    title = "Create the resource groups"
    summary = "One resource group per environment: dev, pipeline and prod."
    inputs = (PREFIX, LOCATION, RESOURCE_GROUP)

    @classmethod
    def environments(cls) -> Sequence[str | None]:
        # The lab creates a prod group too; later sections (the release) fill it.
        return (*ENVIRONMENTS, "prod")

    def run(self, ctx: StepContext) -> None:
        name, location = ctx.value("resource-group"), ctx.value("location")
        groups = ctx.target.resource_groups
        if groups.exists(name):
            ctx.log(f"resource group {name} exists already")
        else:
            ctx.journal.record_once(records.ResourceGroup(name))
            ctx.log(f"create resource group {name} in {location}")
        groups.create(name, location)

    def verify(self, ctx: StepContext) -> Verdict:
        name, location = ctx.value("resource-group"), ctx.value("location")
        try:
            group = ctx.target.resource_groups.get(name)
        except NotFound:
            return Verdict.of(Check("resource group", False, f"{name} does not exist",
                                    "run this step to create it"))
        return Verdict.of(
            Check("resource group", True),
            check_that("location", None if group.location == location else
                   f"{name} is in {group.location}, not in {location}",
                   "set location to where the group is, or choose another prefix"),
        )

    def plan(self, ctx: StepContext) -> list[Change]:
        name = ctx.value("resource-group")
        exists = ctx.target.resource_groups.exists(name)
        return [Change("keep" if exists else "create", "resource group", name,
                       "" if exists else f"in {ctx.value('location')}")]

"""`variable-group`: the variable group the build pipeline reads the pipeline environment's
secrets from, linked to the pipeline Key Vault.
"""

from __future__ import annotations

from labtui_steps.devops.common import organization
from labtui_steps.fields import (
    DEVOPS_ORGANIZATION,
    DEVOPS_PROJECT,
    KEY_VAULT,
    PREFIX,
    RESOURCE_GROUP,
    SERVICE_PRINCIPAL,
)
from labtui_steps.infrastructure import Secrets
from labtui_steps.infrastructure.common import resource_ref
from labtui_steps.pipelines import records
from labtui_steps.pipelines.common import VARIABLE_GROUP

from labtui.step import Change, Check, Step, StepContext, Verdict
from labtui.targets.base import NotFound
from labtui.targets.resources import KEY_VAULTS

GROUP_SECRETS: tuple[str, ...] = (*Secrets.LAB_SECRETS, *Secrets.PIPELINE_SECRETS)
"""What the variable group exposes: the pipeline vault's secrets, by name."""
CREDENTIALS = frozenset({"sp-password", "db-access-token", "sp-app-id"})
"""The group's variables that are credentials, not names."""


class VariableGroupStep(Step):
    """The pipeline environment's variable group, linked to the pipeline Key Vault."""

    id = "variable-group"
    place = 2
    title = "Link a variable group to the pipeline Key Vault"
    section = "Pipelines"
    summary = ("A library variable group whose variables are the pipeline Key Vault's secrets "
               "(the ten of the secrets step, and compute-name, db-workspace-name, "
               "db-access-token, db-cluster-id, model-name, image-name), read when a pipeline "
               "runs.")
    requires = ("secrets", "devops-project")
    environment = "pipeline"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, RESOURCE_GROUP, KEY_VAULT,
              SERVICE_PRINCIPAL, VARIABLE_GROUP)

    def run(self, ctx: StepContext) -> None:
        org, project = organization(ctx), ctx.value("devops-project")
        name, vault = ctx.value("variable-group"), ctx.value("key-vault")
        groups = ctx.target.variable_groups
        try:
            groups.get(org, project, name)
        except NotFound:
            ctx.journal.record_once(records.VariableGroup(org, project, name))
        group = groups.create_linked(org, project, name, vault, GROUP_SECRETS,
                                     service_connection=ctx.value("service-principal"))
        ctx.log(f"variable group {group.name!r} linked to key vault {group.vault} through the "
                f"service connection {ctx.value('service-principal')}: "
                f"{len(group.variables)} secrets")

    def verify(self, ctx: StepContext) -> Verdict:
        org, project = organization(ctx), ctx.value("devops-project")
        name, vault = ctx.value("variable-group"), ctx.value("key-vault")
        try:
            group = ctx.target.variable_groups.get(org, project, name)
        except NotFound as exc:
            return Verdict.of(Check("variable group", False, str(exc), "run this step"))
        checks = [Check("variable group", True, group.name),
                  Check("linked vault", group.vault.lower() == vault.lower(),
                        f"linked to {group.vault or 'no key vault'}",
                        f"link it to {vault} (roll back and run this step)")]
        have = [v.name for v in group.variables]
        missing = [n for n in GROUP_SECRETS if n.lower() not in {h.lower() for h in have}]
        extra = [h for h in have if h.lower() not in {n.lower() for n in GROUP_SECRETS}]
        checks.append(Check(
            "variables", not missing and not extra,
            f"{len(have)} secrets by name" if not missing and not extra else
            "; ".join(([f"missing {', '.join(missing)}"] if missing else [])
                      + ([f"not the lab's: {', '.join(extra)}"] if extra else [])),
            "roll back and run this step"))
        # Read live, as a pipeline run does: each variable's value is the vault's secret now.
        # No value is ever written out; the credentials among them are masked besides, in
        # case anything else prints them (names like "pipeline" are not: masking those would
        # blank every line that names the environment).
        unreadable: list[str] = []
        try:
            uri = ctx.target.vault.get_vault(resource_ref(ctx, KEY_VAULTS, "key-vault")).uri
        except NotFound as exc:
            checks.append(Check("vault secrets", False, str(exc),
                                "run the key-vault step for pipeline"))
            return Verdict(tuple(checks))
        for variable in group.variables:
            try:
                value = ctx.target.vault.get_secret(uri, variable.name)
            except NotFound:
                unreadable.append(variable.name)
                continue
            if variable.name in CREDENTIALS:
                ctx.secret(value)
            ctx.log(f"{variable.name} = •••• (key vault {group.vault})")
        checks.append(Check(
            "vault secrets", not unreadable,
            f"all {len(group.variables)} readable in {group.vault}" if not unreadable else
            f"{group.vault} has no {', '.join(unreadable)}",
            "run the secrets step for pipeline (labtui --step secrets --env pipeline "
            "--headless)"))
        return Verdict(tuple(checks))

    def plan(self, ctx: StepContext) -> list[Change]:
        org, project = organization(ctx), ctx.value("devops-project")
        name = ctx.value("variable-group")
        try:
            ctx.target.variable_groups.get(org, project, name)
        except NotFound:
            return [Change("create", "variable group", name,
                           f"linked to {ctx.value('key-vault')}: {len(GROUP_SECRETS)} secrets")]
        return [Change("keep", "variable group", name)]

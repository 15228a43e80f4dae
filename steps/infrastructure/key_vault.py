"""The `key-vault` step: one Key Vault per environment."""

from __future__ import annotations

from labtui_steps.fields import (
    KEY_VAULT,
    LOCATION,
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
    KEY_VAULTS,
)


class KeyVault(InfrastructureStep):
    """One Key Vault per environment."""

    id = "key-vault"
    place = 4
    title = "Add the Key Vault"
    summary = "A Key Vault per environment for the secrets the notebooks and pipelines read."
    requires = ("resource-groups",)
    inputs = (PREFIX, LOCATION, RESOURCE_GROUP, KEY_VAULT)

    def run(self, ctx: StepContext) -> None:
        name, vault = ctx.value("key-vault"), ctx.target.vault
        ref = resource_ref(ctx, KEY_VAULTS, "key-vault")
        if exists(lambda: vault.get_vault(ref)):
            ctx.log(f"key vault {name} exists already")
        else:
            ctx.journal.record_once(records.KeyVault(ref.id))
            ctx.log(f"create key vault {name}")
        created = vault.create_vault(ref, ctx.value("location"))
        ctx.outputs.set("vault-uri", created.uri)
        ctx.outputs.set("vault-id", created.id)

    def verify(self, ctx: StepContext) -> Verdict:
        name, group = ctx.value("key-vault"), ctx.value("resource-group")
        try:
            ctx.target.vault.get_vault(resource_ref(ctx, KEY_VAULTS, "key-vault"))
        except NotFound:
            return Verdict.of(Check("key vault", False,
                                    f"{name} does not exist in resource group {group}",
                                    "run this step to create it"))
        return Verdict.of(Check("key vault", True))

    def plan(self, ctx: StepContext) -> list[Change]:
        name, ref = ctx.value("key-vault"), resource_ref(ctx, KEY_VAULTS, "key-vault")
        return [Change("keep" if exists(lambda: ctx.target.vault.get_vault(ref))
                       else "create", "key vault", name)]

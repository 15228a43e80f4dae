"""The `secret-scope` step: the Key Vault-backed secret scope `data-lake`."""

from __future__ import annotations

from functools import partial

from labtui_steps.databricks_host import databricks_host, host_fields
from labtui_steps.fields import (
    DATABRICKS_WORKSPACE,
    KEY_VAULT,
    PREFIX,
    RESOURCE_GROUP,
)
from labtui_steps.infrastructure import records
from labtui_steps.infrastructure.common import (
    SCOPE,
    InfrastructureStep,
    check_that,
    resource_ref,
    together,
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


class SecretScope(InfrastructureStep):
    """The Key Vault-backed secret scope `data-lake` in the Databricks workspace."""

    id = "secret-scope"
    place = 9
    title = "Create the Key Vault-backed secret scope"
    summary = "Secret scope 'data-lake' in Databricks, backed by the environment's Key Vault."
    requires = ("key-vault", "databricks")
    inputs = (PREFIX, RESOURCE_GROUP, DATABRICKS_WORKSPACE, KEY_VAULT)

    def run(self, ctx: StepContext) -> None:
        databricks, workspace = ctx.target.databricks, ctx.value("databricks-workspace")
        host = databricks_host(ctx)
        # One round trip: the vault and the workspace's scopes do not need each other.
        vault, scopes = together(
            ctx, partial(ctx.target.vault.get_vault, resource_ref(ctx, KEY_VAULTS, "key-vault")),
            partial(databricks.secret_scopes, host))
        if not any(scope.name == SCOPE for scope in scopes):
            ctx.journal.record_once(records.SecretScope(SCOPE, workspace=workspace,
                                                        **host_fields(host)))
            ctx.log(f"create secret scope {SCOPE} backed by {vault.uri}")
        databricks.create_secret_scope(host, SCOPE, vault=vault)

    def verify(self, ctx: StepContext) -> Verdict:
        # One call after the other, not gathered: a section's verify runs every unit at
        # once, and the engine's bounded pool of calls is what they would queue on.
        databricks, workspace = ctx.target.databricks, ctx.value("databricks-workspace")
        try:
            vault = ctx.target.vault.get_vault(resource_ref(ctx, KEY_VAULTS, "key-vault"))
            listed = databricks.secret_scopes(databricks_host(ctx))
        except NotFound as exc:
            return _missing(exc)
        scope = {scope.name: scope for scope in listed}.get(SCOPE)
        if scope is None:
            return Verdict.of(Check("secret scope", False,
                                    f"there is no secret scope {SCOPE} in {workspace}",
                                    "run this step to create it"))
        return Verdict.of(
            Check("secret scope", True),
            check_that("backed by the key vault", None if scope.backend == "AZURE_KEYVAULT" and
                   scope.vault_id.lower() == vault.id.lower() else
                   f"scope {SCOPE} is backed by {scope.vault_id or 'Databricks'}, "
                   f"not by {vault.name}",
                   "delete the scope and run this step again"),
        )

    def plan(self, ctx: StepContext) -> list[Change]:
        try:
            names = [s.name for s in ctx.target.databricks.secret_scopes(databricks_host(ctx))]
        except NotFound:
            names = []
        return [Change("keep" if SCOPE in names else "create", "secret scope", SCOPE,
                       f"backed by {ctx.value('key-vault')}")]


def _missing(missing: NotFound) -> Verdict:
    """The verdict when what the scope needs is not there yet."""
    return Verdict.of(Check("secret scope", False, str(missing),
                            "run the key-vault and databricks steps"))

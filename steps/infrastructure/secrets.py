"""The `secrets` step: the values notebooks and pipelines read through the `data-lake` scope."""

from __future__ import annotations

import hmac
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

from labtui_steps import records
from labtui_steps.fields import (
    COMPUTE_NAME,
    CREATED_BY,
    DATABRICKS_TOKEN,
    DATABRICKS_WORKSPACE,
    IMAGE_NAME,
    KEY_VAULT,
    ML_WORKSPACE,
    MODEL_NAME,
    PREFIX,
    RESOURCE_GROUP,
    STORAGE_ACCOUNT,
    SUBSCRIPTION_ID,
    TENANT_ID,
)
from labtui_steps.infrastructure.common import (
    FILE_SYSTEM,
    PARALLEL_CALLS,
    SCOPE,
    InfrastructureStep,
    check_that,
    issue_token,
    parallel,
    resource_ref,
)

from labtui.step import (
    Change,
    Check,
    StepContext,
    StepError,
    Verdict,
)
from labtui.targets.base import (
    NotFound,
)
from labtui.targets.resources import (
    KEY_VAULTS,
)


class Secrets(InfrastructureStep):
    """The secrets notebooks and pipelines read through the `data-lake` scope."""

    id = "secrets"
    place = 10
    title = "Add the secrets to the Key Vault"
    summary = ("sp-tenant-id, sp-app-id, sp-password, sp-token-endpoint, datalake-fqdn, "
               "subscription-id, resource-group, ml-workspace-name, alg-state, created-by; "
               "for pipeline also what the build pipeline needs.")
    requires = ("key-vault", "service-principal", "secret-scope", "ml-workspace")
    inputs = (PREFIX, TENANT_ID, SUBSCRIPTION_ID, CREATED_BY, RESOURCE_GROUP, ML_WORKSPACE,
              STORAGE_ACCOUNT, KEY_VAULT, DATABRICKS_WORKSPACE, DATABRICKS_TOKEN,
              COMPUTE_NAME, MODEL_NAME, IMAGE_NAME)

    LAB_SECRETS: ClassVar[tuple[str, ...]] = (
        "sp-tenant-id", "sp-app-id", "sp-password", "sp-token-endpoint", "datalake-fqdn",
        "subscription-id", "resource-group", "ml-workspace-name", "alg-state", "created-by",
    )
    PIPELINE_SECRETS: ClassVar[tuple[str, ...]] = (
        "compute-name", "db-workspace-name", "db-access-token", "db-cluster-id", "model-name",
        "image-name",
    )

    def _db_token(self, ctx: StepContext, *, issue: bool) -> str:
        """The pipeline's Databricks token: databricks-token if given, else a token the
        workspace accepts that this step or cli-profiles kept, else (in a run) a new one."""
        given = ctx.values.get("databricks-token", "")
        if given:
            return given
        workspace, databricks = ctx.value("databricks-workspace"), ctx.target.databricks
        kept = (ctx.outputs.get("db-access-token"), ctx.outputs.get("token", step="cli-profiles"))
        try:
            usable = next((t for t in kept if t and databricks.check_token(workspace, t)), None)
        except NotFound as exc:
            raise StepError(f"{exc}: run the databricks step first") from None
        if usable is None:
            if not issue:
                raise StepError("no Databricks token for db-access-token yet: run this step "
                                "(the workspace issues one) or give databricks-token")
            usable = issue_token(ctx, workspace, "labtui secrets db-access-token")
        if issue and usable != kept[0]:
            ctx.outputs.set("db-access-token", usable, secret=True)
        return usable

    def wanted(self, ctx: StepContext, *, issue: bool = False) -> dict[str, str]:
        """Secret name -> value, for this environment. With `issue`, a missing Databricks
        token is issued (in a run); without it, that is an error (in verify and plan)."""
        tenant = ctx.value("tenant-id")

        def output(name: str, step: str) -> str:
            value = ctx.outputs.get(name, step=step)
            if value is None:
                raise StepError(f"{name} is not recorded: run the {step} step first")
            return value

        values = {
            "sp-tenant-id": tenant,
            "sp-app-id": output("sp-app-id", "service-principal"),
            "sp-password": output("sp-password", "service-principal"),
            "sp-token-endpoint": f"https://login.microsoftonline.com/{tenant}/oauth2/token",
            "datalake-fqdn": ctx.target.datalake.uri(
                ctx.target.datalake.dfs_endpoint(ctx.value("storage-account")), FILE_SYSTEM),
            "subscription-id": ctx.value("subscription-id"),
            "resource-group": ctx.value("resource-group"),
            "ml-workspace-name": ctx.value("ml-workspace-name"),
            "alg-state": ctx.env or "",
            "created-by": ctx.value("created-by"),
        }
        if ctx.env == "pipeline":
            values.update({
                "compute-name": ctx.value("compute-name"),
                "db-workspace-name": ctx.value("databricks-workspace"),
                "db-access-token": self._db_token(ctx, issue=issue),
                "db-cluster-id": output("cluster-id", "databricks"),
                "model-name": ctx.value("model-name"),
                "image-name": ctx.value("image-name"),
            })
        return values

    def _compare(self, ctx: StepContext, vault_uri: str,
                 wanted: dict[str, str]) -> tuple[list[str], list[str]]:
        """Names of the secrets missing from the vault, and of those with another value."""
        store = ctx.target.vault

        def state(name: str) -> str:
            try:
                value = store.get_secret(vault_uri, name)
            except NotFound:
                return "missing"
            return "same" if hmac.compare_digest(value.encode(), wanted[name].encode()) \
                else "different"

        states = dict(zip(wanted, parallel(state, list(wanted)), strict=True))
        return ([n for n, s in states.items() if s == "missing"],
                [n for n, s in states.items() if s == "different"])

    def run(self, ctx: StepContext) -> None:
        wanted = self.wanted(ctx, issue=True)
        vault, store = ctx.value("key-vault"), ctx.target.vault
        uri = store.get_vault(resource_ref(ctx, KEY_VAULTS, "key-vault")).uri
        missing, different = self._compare(ctx, uri, wanted)
        deleted = {secret.name for secret in store.list_deleted_secrets(uri)}
        ours = {entry.ref for entry in ctx.journal.entries() if entry.kind == "vault-secret"}
        for name in missing:
            if name in deleted:
                # Deleted but recoverable: Key Vault refuses to set it until it is recovered.
                ctx.log(f"recover the deleted secret {name}")
                if name not in ours:
                    # Someone else's: rollback puts it back as it was, deleted but recoverable.
                    ctx.journal.record_once(records.RecoveredSecret(name, vault=uri))
                store.recover_deleted_secret(uri, name)
            else:
                ctx.journal.record_once(records.VaultSecret(name, vault=uri))
        todo = missing + different
        if not todo:
            ctx.log("every secret is in place")
            return
        ctx.check_cancelled()
        done = 0
        total = len(todo)

        def write(name: str) -> str | None:
            if ctx.cancelled.is_set():
                return f"{name} (cancelled)"
            store.set_secret(uri, name, wanted[name])
            return None

        ctx.log(f"set {total} secret{'s' if total != 1 else ''} in {vault}: {', '.join(todo)}")
        failures: list[str] = []
        with ThreadPoolExecutor(max_workers=min(PARALLEL_CALLS, total)) as pool:
            futures = {pool.submit(write, name): name for name in todo}
            for future, name in futures.items():
                error = future.exception()
                if error is not None:
                    failures.append(f"{name} ({error})")
                elif future.result() is not None:
                    failures.append(f"{name} (cancelled)")
                done += 1
                ctx.progress(done, total, name)
        ctx.check_cancelled()
        if failures:
            raise StepError(f"could not set {len(failures)} secret(s) in {vault}: "
                            + "; ".join(failures))

    def verify(self, ctx: StepContext) -> Verdict:
        try:
            wanted = self.wanted(ctx)
        except StepError as exc:
            return Verdict.of(Check("inputs", False, str(exc)))
        vault, workspace = ctx.value("key-vault"), ctx.value("databricks-workspace")
        try:
            uri = ctx.target.vault.get_vault(resource_ref(ctx, KEY_VAULTS, "key-vault")).uri
        except NotFound as exc:
            return Verdict.of(Check("key vault", False, str(exc), "run the key-vault step"))
        missing, different = self._compare(ctx, uri, wanted)
        problems = []
        if missing:
            problems.append(f"missing: {', '.join(missing)}")
        if different:
            problems.append(f"different value: {', '.join(different)}")
        checks = [check_that(f"secrets in {vault}", "; ".join(problems) or None,
                         "run this step to set them")]

        # Databricks lets only a notebook read a secret's value (dbutils); from outside, the
        # scope lists the names and the vault behind it holds the values (checked above).
        try:
            listed = set(ctx.target.databricks.scope_secrets(workspace, SCOPE))
        except NotFound as exc:
            checks.append(Check(f"listed by scope {SCOPE}", False, str(exc),
                                "run the secret-scope step"))
            return Verdict(tuple(checks))
        unlisted = [name for name in wanted if name not in listed]
        checks.append(check_that(f"listed by scope {SCOPE}",
                             f"not listed: {', '.join(unlisted)}" if unlisted else None,
                             "run the secret-scope step, then this one"))
        return Verdict(tuple(checks))

    def plan(self, ctx: StepContext) -> list[Change]:
        try:
            wanted = self.wanted(ctx)
        except (StepError, NotFound):
            return [Change("create", "secret", name) for name in self.LAB_SECRETS]
        try:
            uri = ctx.target.vault.get_vault(resource_ref(ctx, KEY_VAULTS, "key-vault")).uri
        except NotFound:  # no vault yet: the key-vault step makes it, then every secret
            missing, different = list(wanted), list[str]()
        else:
            missing, different = self._compare(ctx, uri, wanted)
        return [Change("create" if name in missing else "change" if name in different
                       else "keep", "secret", name) for name in wanted]

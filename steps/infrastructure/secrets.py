"""The `secrets` step: the values notebooks and pipelines read through the `data-lake` scope."""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from functools import partial
from typing import ClassVar

from labtui_steps.databricks_host import databricks_host
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
from labtui_steps.infrastructure import records
from labtui_steps.infrastructure.common import (
    FILE_SYSTEM,
    SCOPE,
    InfrastructureStep,
    check_that,
    issue_token,
    resource_ref,
    undo_together,
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
    TargetError,
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
        databricks = ctx.target.databricks
        kept = (ctx.outputs.get("db-access-token"), ctx.outputs.get("token", step="cli-profiles"))
        try:
            host = databricks_host(ctx)
            usable = next((t for t in kept if t and databricks.check_token(host, t)), None)
        except NotFound as exc:
            raise StepError(f"{exc}: run the databricks step first") from None
        if usable is None:
            if not issue:
                raise StepError("no Databricks token for db-access-token yet: run this step "
                                "(the workspace issues one) or give databricks-token")
            usable = issue_token(ctx, "labtui secrets db-access-token")
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

        # The two reads that are round trips go together.
        reads: list[Callable[[], str]] = [
            partial(ctx.target.datalake.uri,
                    ctx.target.datalake.dfs_endpoint(ctx.value("storage-account")), FILE_SYSTEM)]
        if ctx.env == "pipeline":
            reads.append(partial(self._db_token, ctx, issue=issue))
        fqdn, *token = ctx.gather(*reads)
        values = {
            "sp-tenant-id": tenant,
            "sp-app-id": output("sp-app-id", "service-principal"),
            "sp-password": output("sp-password", "service-principal"),
            "sp-token-endpoint": f"https://login.microsoftonline.com/{tenant}/oauth2/token",
            "datalake-fqdn": fqdn,
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
                "db-access-token": token[0],
                "db-cluster-id": output("cluster-id", "databricks"),
                "model-name": ctx.value("model-name"),
                "image-name": ctx.value("image-name"),
            })
        return values

    def _vault(self, ctx: StepContext) -> tuple[str, Callable[[], None]]:
        """The vault's URI, and a read that fails with `NotFound` when the vault is not there.

        The URI the key-vault step recorded lets the vault's check go in the same round trip
        as the secrets' reads; without it (a workspace from before), the vault is read first.
        """
        ref = resource_ref(ctx, KEY_VAULTS, "key-vault")
        recorded = ctx.outputs.get("vault-uri", step="key-vault")
        if recorded:
            def check() -> None:
                found = ctx.target.vault.get_vault(ref)
                if found.uri != recorded:
                    raise StepError(f"{found.name} answers at {found.uri}, not at the recorded "
                                    f"{recorded}: run the key-vault step again")
            return recorded, check
        return ctx.target.vault.get_vault(ref).uri, lambda: None

    def _compare(self, ctx: StepContext, vault_uri: str, wanted: dict[str, str],
                 *with_them: Callable[[], object]) -> tuple[list[str], list[str]]:
        """Names of the secrets missing from the vault, and of those with another value.
        `with_them` are other reads made in the same round trip (their errors raised)."""
        store = ctx.target.vault

        def state(name: str) -> str:
            try:
                value = store.get_secret(vault_uri, name)
            except NotFound:
                return "missing"
            return "same" if hmac.compare_digest(value.encode(), wanted[name].encode()) \
                else "different"

        answers = ctx.gather(*with_them, *(partial(state, name) for name in wanted))
        states = dict(zip(wanted, answers[len(with_them):], strict=True))
        return ([n for n, s in states.items() if s == "missing"],
                [n for n, s in states.items() if s == "different"])

    def run(self, ctx: StepContext) -> None:
        wanted = self.wanted(ctx, issue=True)
        vault, store = ctx.value("key-vault"), ctx.target.vault
        uri, check_vault = self._vault(ctx)
        deleted_secrets: list[str] = []

        def list_deleted() -> None:
            deleted_secrets.extend(secret.name for secret in store.list_deleted_secrets(uri))

        # The vault first: a missing one is the error named.
        missing, different = self._compare(ctx, uri, wanted, check_vault, list_deleted)
        deleted = set(deleted_secrets)
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
        total = len(todo)
        written: list[str] = []
        lock = threading.Lock()

        def write(name: str) -> str | None:
            try:
                store.set_secret(uri, name, wanted[name])
            except TargetError as error:
                return f"{name} ({error})"
            with lock:
                written.append(name)
                ctx.progress(len(written), total, name)
            return None

        ctx.log(f"set {total} secret{'s' if total != 1 else ''} in {vault}: {', '.join(todo)}")
        failures = [failure for failure in ctx.gather(*(partial(write, n) for n in todo))
                    if failure is not None]
        if failures:
            raise StepError(f"could not set {len(failures)} secret(s) in {vault}: "
                            + "; ".join(failures))

    def verify(self, ctx: StepContext) -> Verdict:
        try:
            wanted = self.wanted(ctx)
        except StepError as exc:
            return Verdict.of(Check("inputs", False, str(exc)))
        vault = ctx.value("key-vault")
        vault_missing: list[str] = []
        listing: list[set[str] | NotFound] = []
        try:
            uri, check_vault = self._vault(ctx)
        except NotFound as exc:
            return Verdict.of(Check("key vault", False, str(exc), "run the key-vault step"))

        def find_vault() -> None:
            try:
                check_vault()
            except (NotFound, StepError) as exc:
                vault_missing.append(str(exc))

        def list_scope() -> None:
            try:
                listing.append(set(ctx.target.databricks.scope_secrets(databricks_host(ctx),
                                                                       SCOPE)))
            except NotFound as exc:
                listing.append(exc)

        # The vault, the scope's listing and the values: one round trip.
        missing, different = self._compare(ctx, uri, wanted, find_vault, list_scope)
        if vault_missing:
            return Verdict.of(Check("key vault", False, vault_missing[0],
                                    "run the key-vault step"))
        problems = []
        if missing:
            problems.append(f"missing: {', '.join(missing)}")
        if different:
            problems.append(f"different value: {', '.join(different)}")
        checks = [check_that(f"secrets in {vault}", "; ".join(problems) or None,
                         "run this step to set them")]

        # Databricks lets only a notebook read a secret's value (dbutils); from outside, the
        # scope lists the names and the vault behind it holds the values (checked above).
        listed = listing[0]
        if isinstance(listed, NotFound):
            checks.append(Check(f"listed by scope {SCOPE}", False, str(listed),
                                "run the secret-scope step"))
            return Verdict(tuple(checks))
        unlisted = [name for name in wanted if name not in listed]
        checks.append(check_that(f"listed by scope {SCOPE}",
                             f"not listed: {', '.join(unlisted)}" if unlisted else None,
                             "run the secret-scope step, then this one"))
        return Verdict(tuple(checks))

    def rollback(self, ctx: StepContext) -> None:
        """Each entry stands alone (a secret, a recovered secret, the pipeline's token): they
        are undone together, one round trip instead of one per secret."""
        undo_together(ctx, list(reversed(ctx.journal.entries())))

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

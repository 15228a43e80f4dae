"""The `data-lake` step: a StorageV2 account, hierarchical namespace on, Cool tier, with the
file system `datalake`."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from labtui_steps.fields import (
    LOCATION,
    PREFIX,
    RESOURCE_GROUP,
    STORAGE_ACCOUNT,
)
from labtui_steps.infrastructure import records
from labtui_steps.infrastructure.common import (
    FILE_SYSTEM,
    InfrastructureStep,
    check_that,
    exists,
    found,
    resource_ref,
    together,
)
from labtui_steps.record_undo import control_ref, datalake_endpoint

from labtui.step import (
    Change,
    Check,
    StepContext,
    Verdict,
)
from labtui.targets.base import (
    NotFound,
    StorageAccount,
)
from labtui.targets.resources import (
    STORAGE_ACCOUNTS,
)


class DataLake(InfrastructureStep):
    """StorageV2, hierarchical namespace on, Cool tier, with the file system `datalake`."""

    id = "data-lake"
    place = 3
    title = "Add the data lake (Storage gen 2)"
    summary = "StorageV2 account, hierarchical namespace on, Cool tier; file system 'datalake'."
    requires = ("resource-groups",)
    inputs = (PREFIX, LOCATION, RESOURCE_GROUP, STORAGE_ACCOUNT)

    def run(self, ctx: StepContext) -> None:
        name, lake = ctx.value("storage-account"), ctx.target.datalake
        ref = resource_ref(ctx, STORAGE_ACCOUNTS, "storage-account")
        # What is there, the account and its file systems, in one round trip.
        found_account, file_systems = together(
            ctx, found(partial(lake.get_account, ref)),
            found(partial(lake.file_systems, lake.dfs_endpoint(name))))
        if isinstance(found_account, NotFound):
            ctx.journal.record_once(records.StorageAccount(ref.id))
            ctx.log(f"create storage account {name} (StorageV2, Cool, hierarchical namespace)")
            file_systems = []  # a new account has none
        else:
            ctx.log(f"storage account {name} exists already")
        account = lake.create_account(
            ref, ctx.value("location"),
            kind="StorageV2", access_tier="Cool", hierarchical_namespace=True,
        )
        ctx.check_cancelled()
        endpoint = account.dfs_endpoint
        if isinstance(file_systems, NotFound) or endpoint != lake.dfs_endpoint(name):
            file_systems = lake.file_systems(endpoint)  # an account elsewhere
        if FILE_SYSTEM not in file_systems:
            ctx.journal.record_once(records.FileSystem(FILE_SYSTEM, account=endpoint))
            ctx.log(f"create file system {FILE_SYSTEM}")
            lake.create_file_system(endpoint, FILE_SYSTEM)
        ctx.outputs.set("datalake-fqdn", lake.uri(endpoint, FILE_SYSTEM))

    def verify(self, ctx: StepContext) -> Verdict:
        name, lake = ctx.value("storage-account"), ctx.target.datalake
        # The account and its file systems in one round trip (the endpoint is known by name).
        account, file_systems = together(
            ctx, found(partial(lake.get_account,
                               resource_ref(ctx, STORAGE_ACCOUNTS, "storage-account"))),
            found(partial(lake.file_systems, lake.dfs_endpoint(name))))
        if isinstance(account, NotFound):
            return Verdict.of(Check("storage account", False, f"{name} does not exist in "
                                    f"resource group {ctx.value('resource-group')}",
                                    "run this step to create it"))
        if isinstance(file_systems, NotFound) or account.dfs_endpoint != lake.dfs_endpoint(name):
            file_systems = lake.file_systems(account.dfs_endpoint)  # an account elsewhere
        return Verdict.of(Check("storage account", True),
                          *_account_checks(account, file_systems))

    def rollback(self, ctx: StepContext) -> None:
        """Newest first, as every step; but a file system in an account this step made goes
        with the account (deleting an account deletes what it holds): one round trip, not
        two."""
        entries = ctx.journal.entries()
        made = {ctx.target.datalake.dfs_endpoint(control_ref(
                    ctx, entry.record.resource, STORAGE_ACCOUNTS).name)
                for entry in entries if isinstance(entry.record, records.StorageAccount)}
        inside = [entry for entry in entries if isinstance(entry.record, records.FileSystem)
                  and datalake_endpoint(ctx, entry.record.account) in made]
        for entry in reversed(entries):
            ctx.check_cancelled()
            if entry not in inside:
                entry.record.undo(ctx)
                ctx.journal.forget(entry)
        for entry in inside:  # gone with their account
            ctx.journal.forget(entry)

    def plan(self, ctx: StepContext) -> list[Change]:
        name, lake = ctx.value("storage-account"), ctx.target.datalake
        ref = resource_ref(ctx, STORAGE_ACCOUNTS, "storage-account")
        if not exists(lambda: lake.get_account(ref)):
            return [Change("create", "storage account", name, "StorageV2, Cool, HNS on"),
                    Change("create", "file system", FILE_SYSTEM)]
        has_fs = FILE_SYSTEM in lake.file_systems(lake.dfs_endpoint(name))
        return [Change("keep", "storage account", name),
                Change("keep" if has_fs else "create", "file system", FILE_SYSTEM)]


def _account_checks(account: StorageAccount, file_systems: Sequence[str]) -> list[Check]:
    return [
        check_that("StorageV2", None if account.kind == "StorageV2" else
               f"{account.name} is {account.kind}, the lab needs StorageV2",
               "delete the account and run this step again"),
        check_that("hierarchical namespace", None if account.hierarchical_namespace else
               f"{account.name} has no hierarchical namespace (Data Lake Storage Gen2 off)",
               "it cannot be turned on later: delete the account and run this step again"),
        check_that("access tier", None if account.access_tier == "Cool" else
               f"{account.name} uses the {account.access_tier} tier, the lab uses Cool"),
        check_that("file system", None if FILE_SYSTEM in file_systems else
               f"there is no file system '{FILE_SYSTEM}' in {account.name}",
               "run this step to create it"),
    ]

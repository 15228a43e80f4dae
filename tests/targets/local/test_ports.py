"""Resource groups, data lake, vault and identity of the local target."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from labtui.targets.base import AclEntry, Conflict, NotFound
from labtui.targets.local import LocalTarget
from labtui.targets.resources import (
    DATABRICKS_WORKSPACES,
    KEY_VAULTS,
    ML_WORKSPACES,
    STORAGE_ACCOUNTS,
)

KV_URI = "https://lab-kv-dev.vault.azure.net/"


LABDLDEV_DFS = "https://labdldev.dfs.core.windows.net/"
PARTLAKE_DFS = "https://partlake.dfs.core.windows.net/"
"""The accounts' DFS endpoints: how the data lake's data plane is addressed."""


def test_resource_group_owns_its_resources(target: LocalTarget, group: str) -> None:
    lake, vault = target.datalake, target.vault
    lake_ref, vault_ref = (target.ref(group, STORAGE_ACCOUNTS, "labdldev"),
                           target.ref(group, KEY_VAULTS, "lab-kv-dev"))
    adb_ref, ml_ref = (target.ref(group, DATABRICKS_WORKSPACES, "lab-adb-dev"),
                       target.ref(group, ML_WORKSPACES, "lab-ml-dev"))
    account = lake.create_account(lake_ref, "eastus")
    lake.create_file_system(LABDLDEV_DFS, "datalake")
    lake.upload(LABDLDEV_DFS, "datalake", "data.csv", b"a, b\n")
    vault.create_vault(vault_ref, "eastus")
    vault.set_secret(KV_URI, "s", "secret-value")
    target.databricks.create_workspace(adb_ref, "eastus")
    target.models.create_workspace(ml_ref, "eastus")
    principal = target.principals.create_service_principal("sp", "72f988bf-86f1-41af-91ab-"
                                                           "2d7cd011db47")
    target.principals.assign_role(principal.object_id, "Reader", account.id)
    assert target.resource_groups.delete(group) is True
    for lookup in (lambda: lake.get_account(lake_ref), lambda: vault.get_vault(vault_ref),
                   lambda: target.databricks.get_workspace(adb_ref),
                   lambda: target.models.get_workspace(ml_ref)):
        with pytest.raises(NotFound):
            lookup()
    assert target.principals.role_assignments(account.id) == []
    assert not (target.sandbox_path / "datalake" / "labdldev").exists()
    assert target.resource_groups.delete(group) is False, "deleting again is fine"


def test_creating_again_is_idempotent_but_other_settings_conflict(
        target: LocalTarget, group: str) -> None:
    assert target.resource_groups.create(group, "eastus").name == group
    with pytest.raises(Conflict, match="exists in eastus, not in westus"):
        target.resource_groups.create(group, "westus")
    lake_ref = target.ref(group, STORAGE_ACCOUNTS, "labdldev")
    target.datalake.create_account(lake_ref, "eastus")
    assert target.datalake.create_account(lake_ref, "eastus").access_tier == "Cool"
    with pytest.raises(Conflict, match="StorageV2/Cool/hierarchical namespace on"):
        target.datalake.create_account(lake_ref, "eastus", access_tier="Hot")
    target.resource_groups.create("other-rg", "eastus")
    with pytest.raises(Conflict, match="name labdldev is taken"):
        target.datalake.create_account(target.ref("other-rg", STORAGE_ACCOUNTS, "labdldev"),
                                       "eastus")
    with pytest.raises(NotFound, match="resource group nope does not exist"):
        target.vault.create_vault(target.ref("nope", KEY_VAULTS, "lab-kv"), "eastus")


def test_abfss_uri_resolves_to_the_file_system_folder(target: LocalTarget, group: str) -> None:
    lake = target.datalake
    lake.create_account(target.ref(group, STORAGE_ACCOUNTS, "labdldev"), "eastus")
    lake.create_file_system(LABDLDEV_DFS, "datalake")
    lake.upload(LABDLDEV_DFS, "datalake", "AdultCensusIncome.csv", b"age, income\n")
    uri = lake.uri(LABDLDEV_DFS, "datalake")
    assert uri == "abfss://datalake@labdldev.dfs.core.windows.net"
    folder = lake.resolve(uri)
    assert (folder / "AdultCensusIncome.csv").read_bytes() == b"age, income\n"
    assert lake.resolve(uri + "/AdultCensusIncome.csv") == folder / "AdultCensusIncome.csv"
    with pytest.raises(NotFound):
        lake.resolve("abfss://other@labdldev.dfs.core.windows.net")


def test_acl_update_remove_and_default_inheritance(target: LocalTarget, group: str) -> None:
    lake = target.datalake
    lake.create_account(target.ref(group, STORAGE_ACCOUNTS, "labdldev"), "eastus")
    lake.create_file_system(LABDLDEV_DFS, "datalake")
    oid = "1f6b1c1e-0000-4000-8000-000000000001"
    lake.update_acl(LABDLDEV_DFS, "datalake", "", [AclEntry("access", "user", oid, "rwx"),
                                                  AclEntry("default", "user", oid, "r-x")])
    lake.upload(LABDLDEV_DFS, "datalake", "a/b/c.csv", b"x")
    assert AclEntry("default", "user", oid, "r-x") in lake.get_acl(LABDLDEV_DFS, "datalake", "a")
    file_acl = lake.get_acl(LABDLDEV_DFS, "datalake", "a/b/c.csv")
    assert AclEntry("access", "user", oid, "r-x") in file_acl
    assert all(entry.scope == "access" for entry in file_acl), "files have no default ACL"
    assert lake.remove_acl(LABDLDEV_DFS, "datalake", "", oid) is True
    assert all(e.principal != oid for e in lake.get_acl(LABDLDEV_DFS, "datalake"))
    with pytest.raises(NotFound):
        lake.get_acl(LABDLDEV_DFS, "datalake", "missing.csv")


def test_a_deleted_account_takes_its_file_systems_with_it(
        target: LocalTarget, group: str) -> None:
    """As on Azure (the data-lake step's rollback counts on it)."""
    lake, ref = target.datalake, target.ref(group, STORAGE_ACCOUNTS, "labdldev")
    lake.create_account(ref, "eastus")
    lake.create_file_system(LABDLDEV_DFS, "datalake")
    oid = "1f6b1c1e-0000-4000-8000-000000000001"
    lake.update_acl(LABDLDEV_DFS, "datalake", "", [AclEntry("access", "user", oid, "rwx")])
    assert lake.delete_account(ref) is True
    lake.create_account(ref, "eastus")  # the same name again: a new, empty account
    assert lake.file_systems(LABDLDEV_DFS) == []
    lake.create_file_system(LABDLDEV_DFS, "datalake")
    assert all(e.principal != oid for e in lake.get_acl(LABDLDEV_DFS, "datalake"))


def test_vault_soft_delete_recover_and_purge(target: LocalTarget, group: str) -> None:
    vault = target.vault
    vault.create_vault(target.ref(group, KEY_VAULTS, "lab-kv-dev"), "eastus")
    vault.set_secret(KV_URI, "sp-password", "first-value")
    vault.set_secret(KV_URI, "sp-password", "second-value")
    assert vault.get_secret(KV_URI, "sp-password") == "second-value"
    assert vault.delete_secret(KV_URI, "sp-password") is True
    assert vault.list_secrets(KV_URI) == []
    assert [d.name for d in vault.list_deleted_secrets(KV_URI)] == ["sp-password"]
    with pytest.raises(NotFound):
        vault.get_secret(KV_URI, "sp-password")
    with pytest.raises(Conflict, match="deleted but recoverable"):
        vault.set_secret(KV_URI, "sp-password", "third-value")
    vault.recover_deleted_secret(KV_URI, "sp-password")
    assert vault.get_secret(KV_URI, "sp-password") == "second-value"
    vault.delete_secret(KV_URI, "sp-password")
    assert vault.purge_deleted_secret(KV_URI, "sp-password") is True
    vault.set_secret(KV_URI, "sp-password", "third-value")
    assert vault.delete_secret(KV_URI, "never-there") is False
    raw = (target.sandbox_path / "sandbox.db").read_bytes()
    assert b"third-value" not in raw and b"second-value" not in raw


def test_vault_takes_concurrent_writes(target: LocalTarget, group: str) -> None:
    vault = target.vault
    vault.create_vault(target.ref(group, KEY_VAULTS, "lab-kv-dev"), "eastus")
    threads = [threading.Thread(target=vault.set_secret, args=(KV_URI, f"s{i}", f"v{i}"))
               for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(vault.list_secrets(KV_URI)) == sorted(f"s{i}" for i in range(16))
    assert vault.get_secret(KV_URI, "s7") == "v7"


def test_service_principals_and_role_assignments(target: LocalTarget, group: str) -> None:
    import uuid

    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    principals = target.principals
    created = principals.create_service_principal("lab-sp-dev", tenant)
    assert uuid.UUID(created.app_id) and uuid.UUID(created.object_id)
    assert created.tenant_id == tenant and created.password
    assert principals.check_password(created.app_id, created.password)
    assert not principals.check_password(created.app_id, "wrong-password")
    assert principals.find_service_principal("lab-sp-dev").password is None
    with pytest.raises(Conflict):
        principals.create_service_principal("lab-sp-dev", tenant)
    new_password = principals.reset_password(created.app_id)
    assert not principals.check_password(created.app_id, created.password)
    assert principals.check_password(created.app_id, new_password)
    account = target.datalake.create_account(target.ref(group, STORAGE_ACCOUNTS, "labdldev"),
                                             "eastus")
    first = principals.assign_role(created.object_id, "Storage Blob Data Contributor",
                                   account.id)
    again = principals.assign_role(created.object_id, "Storage Blob Data Contributor",
                                   account.id)
    assert first == again
    with pytest.raises(NotFound, match="scope"):
        principals.assign_role(created.object_id, "Reader", account.id + "x")
    assert principals.delete_service_principal(created.app_id) is True
    assert principals.role_assignments(account.id) == []
    password_bytes = created.password.encode()
    assert password_bytes not in (target.sandbox_path / "sandbox.db").read_bytes()


def test_upload_from_a_missing_file_is_not_found(target: LocalTarget, group: str,
                                                 tmp_path: Path) -> None:
    target.datalake.create_account(target.ref(group, STORAGE_ACCOUNTS, "labdldev"), "eastus")
    target.datalake.create_file_system(LABDLDEV_DFS, "datalake")
    with pytest.raises(NotFound, match=r"missing\.csv does not exist"):
        target.datalake.upload(LABDLDEV_DFS, "datalake", "d.csv", tmp_path / "missing.csv")
    assert target.datalake.list_files(LABDLDEV_DFS, "datalake") == []


def test_deleting_a_file_also_removes_a_half_done_upload(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path)
    target.resource_groups.create("rg", "eastus")
    target.datalake.create_account(target.ref("rg", STORAGE_ACCOUNTS, "partlake"), "eastus")
    target.datalake.create_file_system(PARTLAKE_DFS, "datalake")
    folder = target.datalake.resolve("abfss://datalake@partlake.dfs.core.windows.net")
    leftover = folder / ".AdultCensusIncome.csv.part"
    leftover.write_bytes(b"age, workclass")  # an upload killed before its rename
    assert target.datalake.delete_file(PARTLAKE_DFS, "datalake", "AdultCensusIncome.csv") is False
    assert not leftover.exists()
    target.close()

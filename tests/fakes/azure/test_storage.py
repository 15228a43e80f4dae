"""Storage accounts and the data lake, driven by azure-mgmt-storage and
azure-storage-file-datalake."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from . import clients
from .cloud import FakeCloud
from .faults import Fault

SP = "5d8c2f1e-7a6b-4c3d-9e0f-1a2b3c4d5e6f"  # the service principal's object id
ACCOUNT = {"sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "location": "westeurope",
           "properties": {"isHnsEnabled": True, "accessTier": "Cool"}}


def _lake(cloud: FakeCloud, name: str = "contoso7dl", hns: bool = True) -> str:
    clients.resources(cloud).resource_groups.create_or_update("rg1", {"location": "westeurope"})
    body = {**ACCOUNT, "properties": {**ACCOUNT["properties"], "isHnsEnabled": hns}}
    made = clients.storage_accounts(cloud).storage_accounts.begin_create("rg1", name, body)
    return str(made.result().primary_endpoints.dfs)


def test_an_account_name_is_checked_then_created_as_a_long_running_operation(
    cloud: FakeCloud,
) -> None:
    cloud.storage.taken_elsewhere.add("popular")
    client = clients.storage_accounts(cloud)
    check = client.storage_accounts.check_name_availability
    assert check({"name": "contoso7dl", "type": "Microsoft.Storage/storageAccounts"}
                 ).name_available
    bad = check({"name": "Contoso_7", "type": "Microsoft.Storage/storageAccounts"})
    assert (bad.name_available, bad.reason) == (False, "AccountNameInvalid")
    assert check({"name": "popular", "type": "Microsoft.Storage/storageAccounts"}
                 ).reason == "AlreadyExists"

    dfs = _lake(cloud)
    account = client.storage_accounts.get_properties("rg1", "contoso7dl")
    assert (account.kind, account.sku.name) == ("StorageV2", "Standard_LRS")
    assert account.is_hns_enabled is True and account.access_tier == "Cool"
    assert dfs == f"{cloud.storage.datalake.server.url}/contoso7dl/"
    assert cloud.server.count("PUT", "/storageAccounts/contoso7dl$", status=202) == 1
    assert cloud.server.count("GET", "/operationResults/", status=202) == 1
    assert check({"name": "contoso7dl", "type": "Microsoft.Storage/storageAccounts"}
                 ).reason == "AlreadyExists"
    with pytest.raises(ResourceExistsError, match="StorageAccountAlreadyTaken"):
        client.storage_accounts.begin_create("rg1", "popular", ACCOUNT).result()


def test_a_create_survives_a_503_and_a_dropped_poll_without_a_second_account(
    cloud: FakeCloud,
) -> None:
    cloud.server.faults.add("PUT", "/storageAccounts/contoso7dl$", Fault.unavailable())
    cloud.server.faults.add("GET", "/operationResults/", Fault.drop())
    _lake(cloud)
    assert len(cloud.server.faults.fired) == 2
    accounts = clients.storage_accounts(cloud).storage_accounts.list_by_resource_group("rg1")
    assert [a.name for a in accounts] == ["contoso7dl"]


def test_file_system_create_list_and_delete(cloud: FakeCloud) -> None:
    lake = clients.datalake(cloud, _lake(cloud))
    lake.create_file_system("datalake")
    with pytest.raises(ResourceExistsError, match="ContainerAlreadyExists"):
        lake.create_file_system("datalake")
    assert [f.name for f in lake.list_file_systems()] == ["datalake"]
    assert lake.get_file_system_client("datalake").exists()
    lake.delete_file_system("datalake")
    assert list(lake.list_file_systems()) == []


def test_an_upload_in_chunks_reports_progress_and_reads_back(cloud: FakeCloud) -> None:
    lake = clients.datalake(cloud, _lake(cloud))
    fs = lake.create_file_system("datalake")
    data = b"age, workclass, fnlwgt\n" + b"39, State-gov, 77516\n" * 2000
    seen: list[tuple[int, int | None]] = []
    fs.get_file_client("census/AdultCensusIncome.csv").upload_data(
        data, overwrite=True, chunk_size=8192, progress_hook=lambda done, total: seen.append(
            (done, total)))
    assert seen[-1] == (len(data), len(data)) and len(seen) == -(-len(data) // 8192)
    appends = cloud.storage.datalake.server.count("PATCH", "AdultCensusIncome.csv$")
    assert appends == len(seen) + 1  # the appends, then one flush
    got = fs.get_file_client("census/AdultCensusIncome.csv").download_file().readall()
    assert got == data
    paths = [(p.name, p.is_directory) for p in fs.get_paths(recursive=True)]
    assert paths == [("census", True), ("census/AdultCensusIncome.csv", False)]
    assert next(iter(fs.get_paths(path="census"))).content_length == len(data)


def test_an_append_that_meets_a_503_is_retried_and_the_file_stays_whole(
    cloud: FakeCloud,
) -> None:
    lake = clients.datalake(cloud, _lake(cloud))
    fs = lake.create_file_system("datalake")
    cloud.storage.datalake.server.faults.add("PATCH", "/data.bin$", Fault.unavailable(), times=2)
    data = bytes(range(256)) * 100
    fs.get_file_client("data.bin").upload_data(data, overwrite=True, chunk_size=4096)
    assert len(cloud.storage.datalake.server.faults.fired) == 2
    assert fs.get_file_client("data.bin").download_file().readall() == data


def _acl(client: Any) -> str:
    return str(client.get_access_control()["acl"])


def test_set_access_control_replaces_the_whole_acl(cloud: FakeCloud) -> None:
    lake = clients.datalake(cloud, _lake(cloud))
    root = lake.create_file_system("datalake")._get_root_directory_client()
    root.set_access_control(acl=f"user::rwx,group::r-x,other::---,user:{SP}:rwx")
    root.set_access_control(acl="user::rwx,group::r-x,other::---")
    assert SP not in _acl(root)


def test_a_recursive_update_adds_the_entry_and_the_mask_decides_what_it_grants(
    cloud: FakeCloud,
) -> None:
    lake = clients.datalake(cloud, _lake(cloud))
    fs = lake.create_file_system("datalake")
    fs.get_file_client("census/data.csv").upload_data(b"age\n39\n", overwrite=True)
    root = fs._get_root_directory_client()
    root.set_access_control(acl="user::rwx,group::r-x,mask::r-x,other::---")

    result = root.update_access_control_recursive(acl=f"user:{SP}:rwx,default:user:{SP}:rwx",
                                                  batch_size=2)
    counters = result.counters
    assert (counters.directories_successful, counters.files_successful) == (2, 1)
    assert f"user:{SP}:rwx" in _acl(root) and f"default:user:{SP}:rwx" in _acl(root)
    file_acl = _acl(fs.get_file_client("census/data.csv"))
    assert f"user:{SP}:rwx" in file_acl and "default:" not in file_acl
    lake_fake = cloud.storage.datalake
    assert lake_fake.effective("contoso7dl", "datalake", "", SP) == "r-x"  # the old mask caps it
    batches = [e.query.get("continuation") for e in lake_fake.server.log
               if e.query.get("action") == "setAccessControlRecursive"]
    assert batches == [None, "2"]  # batches of two: the SDK followed x-ms-continuation

    root.update_access_control_recursive(acl="mask::rwx,default:mask::rwx")
    assert lake_fake.effective("contoso7dl", "datalake", "", SP) == "rwx"
    assert root.get_access_control()["permissions"] == "rwxrwx---+"

    fs.get_file_client("census/new.csv").upload_data(b"x", overwrite=True)  # inherits defaults
    assert f"user:{SP}:rwx" in _acl(fs.get_file_client("census/new.csv"))
    root.remove_access_control_recursive(acl=f"user:{SP},default:user:{SP}")
    assert SP not in _acl(root) and SP not in _acl(fs.get_file_client("census/data.csv"))


def test_acls_need_a_hierarchical_namespace_and_missing_paths_are_not_found(
    cloud: FakeCloud,
) -> None:
    lake = clients.datalake(cloud, _lake(cloud, "flatblobs", hns=False))
    fs = lake.create_file_system("datalake")
    with pytest.raises(HttpResponseError, match="HierarchicalNamespaceNotEnabled"):
        fs._get_root_directory_client().update_access_control_recursive(acl=f"user:{SP}:rwx")
    with pytest.raises(ResourceNotFoundError):
        fs.get_file_client("nothing.csv").download_file()


def test_a_403_while_a_role_propagates_is_reported_not_retried(cloud: FakeCloud) -> None:
    """The SDK does not retry 403: the Azure target treats AuthorizationPermissionMismatch as
    Transient, for a bounded time, right after it assigned the role."""
    lake = clients.datalake(cloud, _lake(cloud))
    lake.create_file_system("datalake")
    fs = lake.get_file_system_client("datalake")
    cloud.storage.datalake.server.faults.add(
        "PUT", "/datalake/up.csv$", Fault.refuse(403, "AuthorizationPermissionMismatch"))
    with pytest.raises(HttpResponseError) as refused:
        fs.get_file_client("up.csv").upload_data(b"a,b\n", overwrite=True)
    assert refused.value.error_code == "AuthorizationPermissionMismatch"
    fs.get_file_client("up.csv").upload_data(b"a,b\n", overwrite=True)  # once propagated
    assert fs.get_file_client("up.csv").download_file().readall() == b"a,b\n"


def test_a_create_resumes_from_its_continuation_token_and_returns_the_account(
    cloud: FakeCloud,
) -> None:
    clients.resources(cloud).resource_groups.create_or_update("rg1", {"location": "westeurope"})
    cloud.storage.create_polls = 3
    first = clients.storage_accounts(cloud).storage_accounts.begin_create(
        "rg1", "contoso7dl", ACCOUNT)
    token = first.continuation_token()
    again = clients.storage_accounts(cloud).storage_accounts.begin_create(
        None, None, None, continuation_token=token)
    assert again.result().is_hns_enabled is True
    assert cloud.server.count("PUT", "/storageAccounts/contoso7dl$") == 1


def test_a_stalled_listing_times_out_and_storage_retries_it(cloud: FakeCloud) -> None:
    lake = clients.datalake(cloud, _lake(cloud), read_timeout=0.5)
    fs = lake.create_file_system("datalake")
    fs.create_directory("census")
    cloud.storage.datalake.server.faults.add("GET", "/datalake/?$", Fault.stall(3))
    assert [p.name for p in fs.get_paths()] == ["census"]
    assert [f.fault.kind for f in cloud.storage.datalake.server.faults.fired] == ["stall"]

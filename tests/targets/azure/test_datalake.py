"""The azure target's data lake port on the loopback fakes: the real azure-mgmt-storage and
azure-storage-file-datalake clients, the port's conventions, and the faults they must survive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labtui.targets.azure import AzureTarget
from labtui.targets.base import Conflict, NotFound, TargetError, Transient
from labtui.targets.resources import STORAGE_ACCOUNTS, AclEntry, ResourceRef
from tests.fakes.azure import clients
from tests.fakes.azure.cloud import FakeCloud
from tests.fakes.azure.faults import Fault
from tests.targets.contract import test_conventions as contract
from tests.targets.contract.test_conventions import one_line

from .conftest import open_target

SP = "5d8c2f1e-7a6b-4c3d-9e0f-1a2b3c4d5e6f"
GROUP = "lab-contract-dev"
CENSUS = Path(__file__).parents[2] / "data" / "AdultCensusIncome.csv"


@pytest.fixture
def target(tmp_path: Path, cloud: FakeCloud) -> Iterator[AzureTarget]:
    opened = open_target(tmp_path, cloud)
    # Resource groups are another port's; the group is made as an attendee's portal would.
    clients.resources(cloud).resource_groups.create_or_update(GROUP, {"location": "eastus"})
    quick(opened)
    yield opened
    opened.close()


def quick(target: AzureTarget) -> None:
    """The SDKs' back-off and polling made short (the fakes answer Retry-After: 0, which
    azure-core reads as "none given")."""
    target.datalake.retry_seconds = 0.05  # type: ignore[attr-defined]
    target.datalake.poll_seconds = 0  # type: ignore[attr-defined]
    target.datalake.backoff_factor = 0.01  # type: ignore[attr-defined]


def _lake(target: AzureTarget, name: str = "labconvdl") -> str:
    """A lake with its `datalake` file system; its DFS endpoint, which addresses it."""
    made = target.datalake.create_account(target.ref(GROUP, STORAGE_ACCOUNTS, name), "eastus")
    target.datalake.create_file_system(made.dfs_endpoint, "datalake")
    return made.dfs_endpoint


def test_the_port_keeps_the_contract_conventions(target: AzureTarget) -> None:
    """The contract suite's storage test, with the fakes' endpoint for the public one (the
    fakes' accounts answer on loopback, path-style)."""
    lake = target.datalake
    ref = target.ref(GROUP, STORAGE_ACCOUNTS, "labconvdl")
    made = lake.create_account(ref, "eastus")
    assert made.ref == ref and made.id == ref.id, "what is made carries its ref"
    assert lake.create_account(ref, "eastus") == made
    with pytest.raises(Conflict) as conflict:
        lake.create_account(ref, "eastus", access_tier="Hot")
    message = one_line(conflict.value)
    assert "Hot" in message and "Cool" in message, "the difference is named"
    with pytest.raises(NotFound):
        lake.get_account(target.ref(GROUP, STORAGE_ACCOUNTS, "labnowhere"))
    dfs = made.dfs_endpoint
    assert lake.dfs_endpoint("labconvdl") == dfs
    lake.create_file_system(dfs, "datalake")
    lake.create_file_system(dfs.rstrip("/").upper().replace("HTTPS", "https"), "datalake")
    assert lake.file_systems(dfs) == ["datalake"]
    assert lake.delete_file(dfs, "datalake", "none.csv") is False
    assert lake.delete_file_system(dfs, "datalake") is True
    assert lake.delete_file_system(dfs, "datalake") is False
    with pytest.raises(TargetError) as bare:
        lake.file_systems("labconvdl")
    assert not isinstance(bare.value, NotFound)
    assert "https://NAME.dfs.core.windows.net" in one_line(bare.value)
    assert lake.delete_account(ref) is True
    assert lake.delete_account(ref) is False


def test_the_account_is_made_as_the_lab_wants_it_after_the_name_is_checked(
        target: AzureTarget, cloud: FakeCloud) -> None:
    ref = target.ref(GROUP, STORAGE_ACCOUNTS, "labdl7")
    made = target.datalake.create_account(ref, "eastus")
    assert (made.kind, made.access_tier, made.hierarchical_namespace) == ("StorageV2", "Cool", True)
    assert made.dfs_endpoint == f"{cloud.storage.datalake.server.url}/labdl7/"
    assert cloud.server.count("POST", "/checkNameAvailability") == 1
    assert cloud.server.count("PUT", "/storageAccounts/labdl7$") == 1
    assert target.datalake.create_account(ref, "eastus") == made
    assert cloud.server.count("PUT", "/storageAccounts/labdl7$") == 1, "no second create"


def test_a_name_taken_elsewhere_is_a_conflict_saying_so(
        target: AzureTarget, cloud: FakeCloud) -> None:
    cloud.storage.taken_elsewhere.add("popular")
    with pytest.raises(Conflict) as taken:
        target.datalake.create_account(target.ref(GROUP, STORAGE_ACCOUNTS, "popular"), "eastus")
    assert "taken" in one_line(taken.value) and "global" in str(taken.value)
    assert cloud.server.count("PUT", "/storageAccounts/popular$") == 0
    with pytest.raises(TargetError) as invalid:
        target.datalake.create_account(target.ref(GROUP, STORAGE_ACCOUNTS, "Bad_Name"), "eastus")
    assert "lower-case" in one_line(invalid.value)


def test_a_missing_group_and_a_missing_account_are_not_found(target: AzureTarget) -> None:
    with pytest.raises(NotFound) as missing:
        target.datalake.create_account(target.ref("lab-no-group", STORAGE_ACCOUNTS, "labdl8"),
                                       "eastus")
    assert "lab-no-group" in one_line(missing.value)
    other = ResourceRef("11111111-2222-3333-4444-555555555555", GROUP, STORAGE_ACCOUNTS, "labdl9")
    with pytest.raises(NotFound):
        target.datalake.get_account(other)
    assert target.datalake.delete_account(other) is False


def test_an_upload_reports_progress_and_lists_and_reads_back(target: AzureTarget) -> None:
    account = _lake(target)
    seen: list[tuple[int, int]] = []
    lake = target.datalake
    made = lake.upload(account, "datalake", "census/AdultCensusIncome.csv", CENSUS,  # type: ignore[call-arg]
                       progress=lambda done, total: seen.append((done, total)))
    size = CENSUS.stat().st_size
    assert made.size == size and seen[-1] == (size, size)
    assert lake.read(account, "datalake", "census/AdultCensusIncome.csv") == CENSUS.read_bytes()
    lake.upload(account, "datalake", "census/small.csv", b"age\n39\n")
    assert [(f.path, f.size) for f in lake.list_files(account, "datalake")] == [
        ("census/AdultCensusIncome.csv", size), ("census/small.csv", 7)]
    assert lake.list_files(account, "datalake", "nothing/") == []
    assert lake.delete_file(account, "datalake", "census/small.csv") is True
    with pytest.raises(NotFound):
        lake.read(account, "datalake", "census/small.csv")


def test_an_acl_update_keeps_other_entries_and_sets_the_mask(
        target: AzureTarget, cloud: FakeCloud) -> None:
    account = _lake(target)
    lake = target.datalake
    lake.upload(account, "datalake", "census/data.csv", b"age\n39\n")
    other = "0a0a0a0a-1b1b-2c2c-3d3d-4e4e4e4e4e4e"
    lake.update_acl(account, "datalake", "", [AclEntry("access", "user", other, "r-x")])
    lake.update_acl(account, "datalake", "", [AclEntry("access", "user", SP, "rwx"),
                                              AclEntry("default", "user", SP, "rwx")])
    acl = lake.get_acl(account, "datalake")
    assert AclEntry("access", "user", other, "r-x") in acl, "update never replaces the ACL"
    assert AclEntry("access", "user", SP, "rwx") in acl
    assert AclEntry("access", "mask", "", "rwx") in acl
    assert cloud.storage.datalake.effective("labconvdl", "datalake", "", SP) == "rwx"
    assert AclEntry("access", "user", SP, "rwx") in lake.get_acl(account, "datalake",
                                                                 "census/data.csv")
    assert not any(e.query.get("action") == "setAccessControl"
                   for e in cloud.storage.datalake.server.log)
    assert lake.remove_acl(account, "datalake", "", SP) is True
    assert all(e.principal != SP for e in lake.get_acl(account, "datalake"))
    assert lake.remove_acl(account, "datalake", "", SP) is False
    with pytest.raises(NotFound):
        lake.get_acl(account, "datalake", "nowhere")


def test_throttling_and_unavailability_are_survived_without_a_second_account(
        target: AzureTarget, cloud: FakeCloud) -> None:
    faults = cloud.server.faults
    faults.add("POST", "/checkNameAvailability", Fault.throttle(retry_after=1))
    faults.add("PUT", "/storageAccounts/labdl10$", Fault.unavailable())
    faults.add("GET", "/operationResults/", Fault.drop())
    made = target.datalake.create_account(target.ref(GROUP, STORAGE_ACCOUNTS, "labdl10"),
                                          "eastus")
    assert [f.fault.kind for f in faults.fired] == ["status", "status", "drop"]
    assert made.name == "labdl10"
    listed = clients.storage_accounts(cloud).storage_accounts.list_by_resource_group(GROUP)
    assert [a.name for a in listed] == ["labdl10"]


def test_a_lost_create_answer_is_retried_into_the_same_account(
        target: AzureTarget, cloud: FakeCloud) -> None:
    cloud.server.faults.add("PUT", "/storageAccounts/labdl11$", Fault.lose_answer())
    made = target.datalake.create_account(target.ref(GROUP, STORAGE_ACCOUNTS, "labdl11"),
                                          "eastus")
    assert made.name == "labdl11"
    assert cloud.server.count("PUT", "/storageAccounts/labdl11$") == 2, "the PUT was retried"
    assert list(cloud.storage.accounts) == ["labdl11"], "into the same account"


def test_a_data_lake_that_stays_busy_is_transient_in_one_line(
        target: AzureTarget, cloud: FakeCloud) -> None:
    account = _lake(target)
    cloud.storage.datalake.server.faults.add("PUT", "/datalake/busy.csv$", Fault.unavailable(),
                                             times=10)
    with pytest.raises(Transient) as busy:
        target.datalake.upload(account, "datalake", "busy.csv", b"a,b\n")
    assert "503" in one_line(busy.value)


def test_a_stalled_answer_is_retried_then_transient(tmp_path: Path, cloud: FakeCloud) -> None:
    clients.resources(cloud).resource_groups.create_or_update(GROUP, {"location": "eastus"})
    target = open_target(tmp_path, cloud)
    target.endpoints = type(target.endpoints)(**{**vars(target.endpoints), "read_timeout": 0.5})
    lake = target.datalake
    quick(target)
    account = _lake(target)
    faults = cloud.storage.datalake.server.faults
    faults.add("GET", "/datalake/?$", Fault.stall(2))
    lake.upload(account, "datalake", "a.csv", b"x")
    assert [f.path for f in lake.list_files(account, "datalake")] == ["a.csv"]
    assert [f.fault.kind for f in faults.fired] == ["stall"]
    faults.add("GET", "/datalake/?$", Fault.stall(2), times=10)
    with pytest.raises(Transient) as stalled:
        lake.list_files(account, "datalake")
    assert "did not answer" in one_line(stalled.value)
    target.close()


def test_a_403_right_after_a_role_assignment_is_transient_later_it_is_not(
        target: AzureTarget, cloud: FakeCloud) -> None:
    account = _lake(target)
    faults = cloud.storage.datalake.server.faults
    faults.add("PUT", "/datalake/up.csv$", Fault.refuse(403, "AuthorizationPermissionMismatch"))
    target.propagation.note_assignment()
    with pytest.raises(Transient) as propagating:
        target.datalake.upload(account, "datalake", "up.csv", b"a,b\n")
    assert "propagat" in one_line(propagating.value)
    target.datalake.upload(account, "datalake", "up.csv", b"a,b\n")  # the engine's retry
    target.propagation.window = 0
    faults.add("PUT", "/datalake/up.csv$", Fault.refuse(403, "AuthorizationPermissionMismatch"))
    with pytest.raises(TargetError) as refused:
        target.datalake.upload(account, "datalake", "up.csv", b"a,b\n")
    assert not isinstance(refused.value, Transient) and "403" in one_line(refused.value)


def test_a_missing_account_is_named_in_one_line(target: AzureTarget) -> None:
    contract.test_a_missing_resource_is_named_in_one_line(
        target, lambda t: t.datalake.get_account(t.ref(GROUP, STORAGE_ACCOUNTS, "labmissingdl")))


def test_resource_manager_throttling_past_the_sdk_retries_is_transient(
        target: AzureTarget, cloud: FakeCloud) -> None:
    cloud.server.faults.add("POST", "/checkNameAvailability", Fault.throttle(retry_after=0),
                            times=50)
    with pytest.raises(Transient) as throttled:
        target.datalake.create_account(target.ref(GROUP, STORAGE_ACCOUNTS, "labdl12"), "eastus")
    assert "429" in one_line(throttled.value)
    # azure-core retries a refused status three times (retry_status) before giving up.
    assert len(cloud.server.faults.fired) == 4, "the SDK's own retries ran first"
    assert cloud.server.count("PUT", "/storageAccounts/labdl12$") == 0


def test_the_data_plane_is_addressed_by_the_accounts_dfs_endpoint(
        target: AzureTarget, cloud: FakeCloud) -> None:
    ref = target.ref(GROUP, STORAGE_ACCOUNTS, "labdl13")
    endpoint = target.datalake.create_account(ref, "eastus").dfs_endpoint
    lake = target.datalake
    assert lake.dfs_endpoint("labdl13") == endpoint
    lake.create_file_system(endpoint, "datalake")
    lake.upload(endpoint, "datalake", "a.csv", b"x\n")
    assert lake.read(endpoint, "datalake", "a.csv") == b"x\n"
    assert lake.file_systems(endpoint.rstrip("/")) == ["datalake"], "with or without the /"
    assert lake.delete_account(ref) is True
    with pytest.raises(NotFound) as gone:
        lake.file_systems(endpoint)
    one_line(gone.value)
    with pytest.raises(TargetError, match="not a data lake's DFS endpoint"):
        lake.file_systems("ftp://labdl13.example.com/")


def test_an_endpoint_whose_host_does_not_resolve_is_not_found(target: AzureTarget) -> None:
    with pytest.raises(NotFound) as missing:
        target.datalake.file_systems("https://labnowhere.dfs.invalid/")
    assert "does not resolve" in one_line(missing.value)

"""The azure target's Key Vault on the loopback fakes: the vault as the lab makes it, a
soft-deleted name, purge on delete (resumable), one shared and warmed SecretClient per vault,
Key Vault's passing states waited out, faults survived."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labtui.targets import operations
from labtui.targets.azure import AzureTarget
from labtui.targets.azure.key_vault import CREATE, PURGE, AzureVault
from labtui.targets.errors import Conflict, Transient
from labtui.targets.resources import KEY_VAULTS, KeyVault, ResourceRef
from tests.fakes.azure import clients
from tests.fakes.azure.cloud import FakeCloud
from tests.fakes.azure.faults import Fault
from tests.fakes.azure.keyvault_secrets import VAULT_AUDIENCE

from .conftest import open_target

SECRET = "Sup3r-s3cret-value"


@pytest.fixture
def target(tmp_path: Path, cloud: FakeCloud) -> Iterator[AzureTarget]:
    opened = open_target(tmp_path, cloud)
    opened.endpoints = dataclasses.replace(opened.endpoints, read_timeout=0.3)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def ref(target: AzureTarget) -> ResourceRef:
    target.resource_groups.create("contoso7-db-dev", "westeurope")
    return target.ref("contoso7-db-dev", KEY_VAULTS, "kv-contoso7-dev")


@pytest.fixture
def vault(target: AzureTarget, ref: ResourceRef) -> KeyVault:
    return target.vault.create_vault(ref, "westeurope")


def test_the_vault_is_made_with_rbac_and_a_short_soft_delete_window(
        cloud: FakeCloud, vault: KeyVault) -> None:
    properties = cloud.keyvault.vaults["kv-contoso7-dev"].properties
    assert properties["enableRbacAuthorization"] is True
    assert properties["enableSoftDelete"] is True
    assert properties["softDeleteRetentionInDays"] == 7
    assert vault.uri == f"{cloud.keyvault.data_plane('kv-contoso7-dev').url}/"


def test_a_soft_deleted_vault_of_the_name_is_a_conflict_with_the_way_out(
        cloud: FakeCloud, target: AzureTarget, ref: ResourceRef, vault: KeyVault) -> None:
    # Deleted by hand (the portal, `az keyvault delete`): soft-deleted, the name kept.
    clients.key_vaults(cloud).vaults.delete("contoso7-db-dev", "kv-contoso7-dev")
    with pytest.raises(Conflict) as kept:
        target.vault.create_vault(ref, "westeurope")
    message = str(kept.value)
    assert "\n" not in message and "soft-deleted" in message
    assert "az keyvault purge --name kv-contoso7-dev" in message
    assert "az keyvault recover --name kv-contoso7-dev" in message
    assert cloud.server.count("PUT", "/vaults/kv-contoso7-dev") == 1, "no second PUT"


def test_deleting_a_vault_purges_it_so_the_name_is_free_again(
        cloud: FakeCloud, target: AzureTarget, ref: ResourceRef, vault: KeyVault) -> None:
    assert target.vault.delete_vault(ref) is True
    assert not cloud.keyvault.vaults and not cloud.keyvault.deleted
    assert target.vault.create_vault(ref, "westeurope").ref == ref


def test_a_purge_cut_off_is_resumed_from_its_token(
        cloud: FakeCloud, tmp_path: Path, target: AzureTarget, ref: ResourceRef,
        vault: KeyVault) -> None:
    heard: list[operations.StartedOperation] = []

    class Listener:
        def started(self, operation: operations.StartedOperation) -> None:
            heard.append(operation)

        def ended(self, operation: operations.StartedOperation) -> None:
            heard.remove(operation)

    cloud.keyvault.purge_polls = 10**9
    cloud.server.faults.add("GET", "/operationResults/", Fault.stall(0.5), times=50)
    with operations.listening(Listener()), pytest.raises(Transient):
        target.vault.delete_vault(ref)
    [pending] = heard
    assert pending.action == PURGE and pending.token
    assert "kv-contoso7-dev" in cloud.keyvault.deleted, "still being purged"

    cloud.server.faults.clear()
    cloud.keyvault.purge_polls = 0
    for op in list(cloud.operations._ops.values()):
        op.polls = 0
    again = open_target(tmp_path / "again", cloud)  # a new process, the token from the journal
    try:
        again.resume_operation(pending)
    finally:
        again.close()
    assert not cloud.keyvault.deleted
    assert cloud.server.count("POST", "/purge$") == 1, "the same purge, not another"


def test_a_burst_of_sets_shares_one_client_one_challenge_and_one_token(
        cloud: FakeCloud, target: AzureTarget, vault: KeyVault) -> None:
    port = target.vault
    names = [f"secret-{i}" for i in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: port.set_secret(vault.uri, n, f"v-{n}"), names))
    host = cloud.keyvault.data_plane("kv-contoso7-dev")
    assert host.challenges == 1
    assert cloud.entra.tokens_issued(VAULT_AUDIENCE) == 1
    assert isinstance(port, AzureVault) and len(port._secrets) == 1
    assert port.list_secrets(vault.uri) == sorted(names)
    assert {port.get_secret(vault.uri, n) for n in names} == {f"v-{n}" for n in names}


def test_delete_purge_and_set_again_wait_out_key_vaults_passing_states(
        cloud: FakeCloud, target: AzureTarget, vault: KeyVault) -> None:
    port = target.vault
    port.set_secret(vault.uri, "sp-password", SECRET)
    assert port.delete_secret(vault.uri, "sp-password") is True
    assert [d.name for d in port.list_deleted_secrets(vault.uri)] == ["sp-password"]
    assert port.purge_deleted_secret(vault.uri, "sp-password") is True
    assert port.list_deleted_secrets(vault.uri) == []
    port.set_secret(vault.uri, "sp-password", "new-value")  # the name is free at once
    assert port.get_secret(vault.uri, "sp-password") == "new-value"
    assert port.purge_deleted_secret(vault.uri, "nothing") is False


def test_a_recovered_secret_reads_again_when_recover_returns(
        target: AzureTarget, vault: KeyVault) -> None:
    port = target.vault
    port.set_secret(vault.uri, "alg-state", "dev")
    port.delete_secret(vault.uri, "alg-state")
    port.recover_deleted_secret(vault.uri, "alg-state")
    assert port.get_secret(vault.uri, "alg-state") == "dev"


def test_a_purge_right_after_a_delete_waits_for_the_deletion(
        cloud: FakeCloud, target: AzureTarget, vault: KeyVault) -> None:
    port = target.vault
    port.set_secret(vault.uri, "db-token", SECRET)
    client = clients.secrets(cloud, vault.uri)
    client.begin_delete_secret("db-token", _polling_interval=0.01)  # not waited: being deleted
    assert port.purge_deleted_secret(vault.uri, "db-token") is True
    assert port.list_deleted_secrets(vault.uri) == []


@pytest.mark.parametrize("fault", [
    Fault.throttle(retry_after=0.2), Fault.unavailable(), Fault.drop(), Fault.stall(1.0),
], ids=["429-retry-after", "503", "dropped", "timeout"])
def test_a_set_survives_a_fault_with_one_version(
        cloud: FakeCloud, target: AzureTarget, vault: KeyVault, fault: Fault) -> None:
    port = target.vault
    port.list_secrets(vault.uri)
    host = cloud.keyvault.data_plane("kv-contoso7-dev")
    host.server.faults.add("PUT", "/secrets/sp-app-id$", fault, times=2)
    port.set_secret(vault.uri, "sp-app-id", "3f9c1e2a")
    assert len(host.server.faults.fired) == 2
    assert port.get_secret(vault.uri, "sp-app-id") == "3f9c1e2a"
    client = clients.secrets(cloud, vault.uri)
    assert len(list(client.list_properties_of_secret_versions("sp-app-id"))) == 1


def test_throttling_past_the_sdks_retries_is_transient_and_keeps_the_value_out(
        cloud: FakeCloud, target: AzureTarget, vault: KeyVault) -> None:
    port = target.vault
    port.list_secrets(vault.uri)
    host = cloud.keyvault.data_plane("kv-contoso7-dev")
    host.server.faults.add("PUT", "/secrets/sp-password$", Fault.throttle(retry_after=0.1),
                           times=50)
    with pytest.raises(Transient) as busy:
        port.set_secret(vault.uri, "sp-password", SECRET)
    assert busy.value.retry_after == pytest.approx(0.1)
    assert SECRET not in str(busy.value) and "\n" not in str(busy.value)
    assert "HTTP 429" in str(busy.value)


class Killed(BaseException):
    """The process dying right after the journal took the operation (as SIGKILL would)."""


class KilledOnStart:
    def __init__(self) -> None:
        self.heard: list[operations.StartedOperation] = []

    def started(self, operation: operations.StartedOperation) -> None:
        self.heard.append(operation)
        raise Killed

    def ended(self, operation: operations.StartedOperation) -> None:
        self.heard.remove(operation)


def test_a_creation_cut_off_after_its_token_is_journaled_is_resumed_from_it(
        cloud: FakeCloud, tmp_path: Path, target: AzureTarget, ref: ResourceRef) -> None:
    cloud.keyvault.create_polls = 3
    listener = KilledOnStart()
    with operations.listening(listener), pytest.raises(Killed):
        target.vault.create_vault(ref, "westeurope")
    [pending] = listener.heard
    assert (pending.resource, pending.action) == (ref.id, CREATE) and pending.token
    assert cloud.keyvault.vaults["kv-contoso7-dev"].state == "RegisteringDns"

    again = open_target(tmp_path / "again", cloud)  # a new process, the token from the journal
    try:
        again.resume_operation(pending)
    finally:
        again.close()
    assert cloud.keyvault.vaults["kv-contoso7-dev"].state == "Succeeded"
    assert cloud.server.count("PUT", "/vaults/kv-contoso7-dev") == 1, "the same creation"


def test_a_creation_seen_to_end_leaves_nothing_to_resume(
        target: AzureTarget, ref: ResourceRef) -> None:
    heard: list[tuple[str, operations.StartedOperation]] = []

    class Listener:
        def started(self, operation: operations.StartedOperation) -> None:
            heard.append(("started", operation))

        def ended(self, operation: operations.StartedOperation) -> None:
            heard.append(("ended", operation))

    with operations.listening(Listener()):
        target.vault.create_vault(ref, "westeurope")
    assert [(event, op.action) for event, op in heard] == [("started", CREATE),
                                                           ("ended", CREATE)]

"""Key Vault's management plane, driven by azure-mgmt-keyvault's KeyVaultManagementClient."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from . import clients
from .cloud import FakeCloud
from .faults import Fault


@pytest.fixture
def group(cloud: FakeCloud) -> str:
    clients.resources(cloud).resource_groups.create_or_update("rg1", {"location": "westeurope"})
    return "rg1"


def test_a_vault_is_created_by_polling_it_until_its_dns_is_registered(
    cloud: FakeCloud, group: str
) -> None:
    cloud.keyvault.create_polls = 2
    kv = clients.key_vaults(cloud)
    assert kv.vaults.check_name_availability({"name": "kv-contoso7-dev",
                                              "type": "Microsoft.KeyVault/vaults"}).name_available
    vault = kv.vaults.begin_create_or_update(group, "kv-contoso7-dev",
                                              clients.vault_parameters()).result()
    assert vault.properties.provisioning_state == "Succeeded"
    assert vault.properties.enable_rbac_authorization is True
    assert vault.properties.vault_uri.startswith("https://127.0.0.1:")
    assert cloud.server.count("GET", "/vaults/kv-contoso7-dev$") == 2
    taken = kv.vaults.check_name_availability({"name": "kv-contoso7-dev",
                                               "type": "Microsoft.KeyVault/vaults"})
    assert (taken.name_available, taken.reason) == (False, "AlreadyExists")


def test_a_deleted_vault_is_soft_deleted_blocks_its_name_and_is_purged_as_an_operation(
    cloud: FakeCloud, group: str
) -> None:
    kv = clients.key_vaults(cloud)
    kv.vaults.begin_create_or_update(group, "kv1", clients.vault_parameters()).result()
    kv.vaults.delete(group, "kv1")
    with pytest.raises(ResourceNotFoundError):
        kv.vaults.get(group, "kv1")
    assert [d.name for d in kv.vaults.list_deleted()] == ["kv1"]
    deleted = kv.vaults.get_deleted("kv1", "westeurope")
    assert deleted.properties.vault_id.endswith("/vaults/kv1")
    assert deleted.properties.scheduled_purge_date > deleted.properties.deletion_date

    with pytest.raises(ResourceExistsError) as refused:
        kv.vaults.begin_create_or_update(group, "kv1", clients.vault_parameters()).result()
    assert refused.value.error is not None and refused.value.error.code == "ConflictError"
    assert "already exists in deleted state" in str(refused.value)
    assert not kv.vaults.check_name_availability(
        {"name": "kv1", "type": "Microsoft.KeyVault/vaults"}).name_available

    kv.vaults.begin_purge_deleted("kv1", "westeurope").result()
    assert cloud.server.count("GET", "/operationResults/", status=202) == 1
    assert list(kv.vaults.list_deleted()) == []
    again = kv.vaults.begin_create_or_update(group, "kv1", clients.vault_parameters()).result()
    assert again.properties.provisioning_state == "Succeeded"


def test_a_soft_deleted_vault_is_recovered_with_create_mode_recover(
    cloud: FakeCloud, group: str
) -> None:
    kv = clients.key_vaults(cloud)
    made = kv.vaults.begin_create_or_update(group, "kv1", clients.vault_parameters()).result()
    kv.vaults.delete(group, "kv1")
    back = kv.vaults.begin_create_or_update(
        group, "kv1", clients.vault_parameters(createMode="recover")).result()
    assert back.properties.vault_uri == made.properties.vault_uri
    assert list(kv.vaults.list_deleted()) == []
    with pytest.raises(HttpResponseError, match="SoftDeletedVaultDoesNotExist"):
        kv.vaults.begin_create_or_update(
            group, "kv2", clients.vault_parameters(createMode="recover")).result()


def test_deleting_the_resource_group_soft_deletes_its_vault(cloud: FakeCloud, group: str) -> None:
    kv = clients.key_vaults(cloud)
    kv.vaults.begin_create_or_update(group, "kv1", clients.vault_parameters()).result()
    clients.resources(cloud).resource_groups.begin_delete(group).result()
    assert [d.name for d in kv.vaults.list_deleted()] == ["kv1"]


def test_a_vault_name_taken_in_another_tenant_and_a_missing_group_are_refused(
    cloud: FakeCloud, group: str
) -> None:
    cloud.keyvault.taken_elsewhere.add("kv-popular")
    kv = clients.key_vaults(cloud)
    with pytest.raises(ResourceExistsError, match="VaultAlreadyExists"):
        kv.vaults.begin_create_or_update(group, "kv-popular", clients.vault_parameters()).result()
    with pytest.raises(ResourceNotFoundError, match="ResourceGroupNotFound"):
        kv.vaults.begin_create_or_update("nowhere", "kv2", clients.vault_parameters()).result()
    with pytest.raises(HttpResponseError, match="VaultNameNotValid"):
        kv.vaults.begin_create_or_update(group, "1-bad--name", clients.vault_parameters()).result()


def test_a_create_survives_throttling_and_a_dropped_poll_without_a_duplicate(
    cloud: FakeCloud, group: str
) -> None:
    cloud.keyvault.create_polls = 3
    cloud.server.faults.add("PUT", "/vaults/kv1$", Fault.throttle(retry_after=1))
    cloud.server.faults.add("GET", "/vaults/kv1$", Fault.drop())
    cloud.server.faults.add("GET", "/vaults/kv1$", Fault.unavailable())
    kv = clients.key_vaults(cloud)
    vault = kv.vaults.begin_create_or_update(group, "kv1", clients.vault_parameters()).result()
    assert vault.properties.provisioning_state == "Succeeded"
    assert [f.fault.kind for f in cloud.server.faults.fired] == ["status", "drop", "status"]
    assert cloud.server.count("PUT", "/vaults/kv1$", status=201) == 1
    assert len(cloud.keyvault.hosts) == 1
    assert [v.name for v in kv.vaults.list_by_resource_group(group)] == ["kv1"]

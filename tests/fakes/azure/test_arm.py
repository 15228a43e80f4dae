"""ARM resource groups and providers, driven by azure-mgmt-resource's ResourceManagementClient."""

from __future__ import annotations

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from . import clients
from .cloud import FakeCloud
from .faults import Fault


def test_a_service_principal_signs_in_at_the_fake_authority(cloud: FakeCloud) -> None:
    token = clients.credential(cloud).get_token(clients.MANAGEMENT_SCOPE)
    assert token.token and cloud.entra.tokens[token.token] == "https://management.azure.com"


def test_a_wrong_client_secret_is_refused_with_entras_message(cloud: FakeCloud) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        clients.credential(cloud, secret="wrong").get_token(clients.MANAGEMENT_SCOPE)


def test_resource_group_create_get_list_and_delete_as_a_long_running_operation(
    cloud: FakeCloud,
) -> None:
    cloud.operations.retry_after = 1  # the poller waits what ARM says before its first poll
    cloud.arm.delete_polls = 3  # azure-core polls once at once, then waits Retry-After
    client = clients.resources(cloud)
    made = client.resource_groups.create_or_update(
        "contoso7-db-dev", {"location": "westeurope", "tags": {"created-by": "ada"}}
    )
    assert made.properties.provisioning_state == "Succeeded"
    assert client.resource_groups.check_existence("CONTOSO7-DB-DEV")
    assert [g.name for g in client.resource_groups.list()] == ["contoso7-db-dev"]

    poller = client.resource_groups.begin_delete("contoso7-db-dev")
    assert client.resource_groups.get("contoso7-db-dev").properties.provisioning_state == "Deleting"
    poller.result()
    assert poller.status() == "Succeeded"
    assert cloud.server.count("GET", "/operationResults/", status=202) == 2
    assert cloud.server.count("GET", "/operationResults/", status=204) == 1
    assert not client.resource_groups.check_existence("contoso7-db-dev")
    with pytest.raises(ResourceNotFoundError, match="ResourceGroupNotFound"):
        client.resource_groups.get("contoso7-db-dev")


def test_a_delete_resumes_from_its_continuation_token_after_a_crash(cloud: FakeCloud) -> None:
    cloud.arm.delete_polls = 3
    first = clients.resources(cloud)
    first.resource_groups.create_or_update("rg1", {"location": "westeurope"})
    token = first.resource_groups.begin_delete("rg1").continuation_token()

    again = clients.resources(cloud)  # a new process: a new client, the token from the journal
    again.resource_groups.begin_delete(None, continuation_token=token).result()
    assert not again.resource_groups.check_existence("rg1")
    assert cloud.server.count("DELETE", "/resourcegroups/rg1") == 1


def test_providers_register_through_registering_to_registered(cloud: FakeCloud) -> None:
    client = clients.resources(cloud)
    assert client.providers.get("Microsoft.KeyVault").registration_state == "NotRegistered"
    assert client.providers.register("Microsoft.KeyVault").registration_state == "Registering"
    states = [client.providers.get("Microsoft.KeyVault").registration_state for _ in range(3)]
    assert states == ["Registering", "Registered", "Registered"]
    with pytest.raises(ResourceNotFoundError, match="InvalidResourceNamespace"):
        client.providers.get("Microsoft.Nothing")


def test_throttling_and_unavailability_are_retried_by_the_sdk(cloud: FakeCloud) -> None:
    cloud.server.faults.add("PUT", "/resourcegroups/rg1$", Fault.throttle(retry_after=1))
    cloud.server.faults.add("PUT", "/resourcegroups/rg1$", Fault.unavailable(), times=2)
    client = clients.resources(cloud)
    made = client.resource_groups.create_or_update("rg1", {"location": "westeurope"})
    assert made.name == "rg1"
    assert len(cloud.server.faults.fired) == 3
    assert cloud.server.count("PUT", "/resourcegroups/rg1$", status=201) == 1
    assert len(list(client.resource_groups.list())) == 1


def test_a_connection_dropped_mid_operation_is_retried_and_the_delete_completes(
    cloud: FakeCloud,
) -> None:
    client = clients.resources(cloud)
    client.resource_groups.create_or_update("rg1", {"location": "westeurope"})
    cloud.server.faults.add("GET", "/operationResults/", Fault.drop())
    client.resource_groups.begin_delete("rg1").result()
    assert [f.fault.kind for f in cloud.server.faults.fired] == ["drop"]
    assert not client.resource_groups.check_existence("rg1")
    assert cloud.server.count("DELETE", "/resourcegroups/rg1") == 1


def test_a_stalled_read_times_out_and_is_retried(cloud: FakeCloud) -> None:
    client = clients.resources(cloud, read_timeout=0.5)
    cloud.server.faults.add("GET", "/resourcegroups$", Fault.stall(3))
    assert list(client.resource_groups.list()) == []
    assert [f.fault.kind for f in cloud.server.faults.fired] == ["stall"]


def test_a_post_that_times_out_is_reported_not_retried(cloud: FakeCloud) -> None:
    """POST is not idempotent: azure-core retries it on 500/503/504, never on a lost answer."""
    from azure.core.exceptions import ServiceResponseError

    client = clients.resources(cloud, read_timeout=0.5)
    cloud.server.faults.add("POST", "/register$", Fault.stall(3))
    with pytest.raises(ServiceResponseError):
        client.providers.register("Microsoft.Storage")
    assert cloud.server.count("POST", "/register$") == 1


def test_a_put_whose_answer_is_lost_is_retried_into_the_same_group(cloud: FakeCloud) -> None:
    cloud.server.faults.add("PUT", "/resourcegroups/rg1$", Fault.lose_answer())
    client = clients.resources(cloud)
    client.resource_groups.create_or_update("rg1", {"location": "westeurope"})
    statuses = [e.status for e in cloud.server.log if e.method == "PUT"]
    assert statuses == [201, 200]  # created, answer lost; the retry found it: no duplicate
    assert [g.name for g in client.resource_groups.list()] == ["rg1"]


def test_a_post_whose_answer_is_lost_is_reported_though_it_took_effect(cloud: FakeCloud) -> None:
    """The Azure target must re-read after such an error: the registration did start."""
    from azure.core.exceptions import ServiceResponseError

    cloud.server.faults.add("POST", "/register$", Fault.lose_answer())
    client = clients.resources(cloud)
    with pytest.raises(ServiceResponseError):
        client.providers.register("Microsoft.Databricks")
    assert client.providers.get("Microsoft.Databricks").registration_state == "Registering"


def test_an_unregistered_provider_refuses_a_create_until_it_is_registered(
    cloud: FakeCloud,
) -> None:
    """azure-mgmt-core's ARMAutoResourceProviderRegistrationPolicy reads the 409 body to learn
    the namespace, but a begin_* call streams its first response, so the policy never fires
    (measured with azure-mgmt-keyvault 14.1): the Azure target registers providers itself."""
    cloud.arm.require_registration = True
    arm = clients.resources(cloud)
    arm.resource_groups.create_or_update("rg1", {"location": "westeurope"})
    kv = clients.key_vaults(cloud)
    with pytest.raises(ResourceExistsError, match="MissingSubscriptionRegistration"):
        kv.vaults.begin_create_or_update("rg1", "kv1", clients.vault_parameters()).result()
    assert cloud.server.count("POST", "/register$") == 0

    arm.providers.register("Microsoft.KeyVault")
    states = [arm.providers.get("Microsoft.KeyVault").registration_state for _ in range(2)]
    assert states == ["Registering", "Registered"]
    vault = kv.vaults.begin_create_or_update("rg1", "kv1", clients.vault_parameters()).result()
    assert vault.properties.provisioning_state == "Succeeded"


def test_the_test_ca_is_trusted_only_where_it_is_passed(cloud: FakeCloud) -> None:
    """No process-wide trust (REQUESTS_CA_BUNDLE): a client without the CA file is refused."""
    from azure.core.exceptions import ServiceRequestError
    from azure.identity import ClientSecretCredential

    from .cloud import CLIENT_ID, CLIENT_SECRET, TENANT_ID

    bare = ClientSecretCredential(TENANT_ID, CLIENT_ID, CLIENT_SECRET, authority=cloud.url,
                                  disable_instance_discovery=True, retry_total=0)
    with pytest.raises((ServiceRequestError, ClientAuthenticationError), match="CERTIFICATE"):
        bare.get_token(clients.MANAGEMENT_SCOPE)


def test_a_token_for_another_audience_is_refused(cloud: FakeCloud) -> None:
    import requests

    token = clients.credential(cloud).get_token("https://vault.azure.net/.default").token
    url = f"{cloud.url}/subscriptions/{cloud.arm.subscription_id}/resourcegroups"
    got = requests.get(url, params={"api-version": "2025-04-01"}, timeout=5,
                       headers={"Authorization": f"Bearer {token}"},
                       verify=str(cloud.server.ca_path))
    assert got.status_code == 401
    assert got.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"

"""A vault's secrets over HTTPS, driven by azure-keyvault-secrets' SecretClient."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from . import clients
from .cloud import FakeCloud
from .faults import Fault
from .keyvault_secrets import VAULT_AUDIENCE, FakeVaultData

FAST = {"_polling_interval": 0.01}


@pytest.fixture
def vault_uri(cloud: FakeCloud) -> str:
    clients.resources(cloud).resource_groups.create_or_update("rg1", {"location": "westeurope"})
    kv = clients.key_vaults(cloud)
    vault = kv.vaults.begin_create_or_update("rg1", "kv1", clients.vault_parameters()).result()
    return str(vault.properties.vault_uri)


@pytest.fixture
def host(cloud: FakeCloud, vault_uri: str) -> FakeVaultData:
    return cloud.keyvault.data_plane("kv1")


def test_the_client_meets_the_401_challenge_then_sets_and_reads_a_secret(
    cloud: FakeCloud, vault_uri: str, host: FakeVaultData
) -> None:
    client = clients.secrets(cloud, vault_uri)
    made = client.set_secret("sp-tenant-id", "72f988bf", tags={"created-by": "ada"})
    assert made.properties.version and made.properties.tags == {"created-by": "ada"}
    assert made.properties.recovery_level == "Recoverable+Purgeable"
    assert client.get_secret("sp-tenant-id").value == "72f988bf"
    assert client.get_secret("sp-tenant-id", made.properties.version).value == "72f988bf"
    assert host.challenges == 1
    assert host.server.count("PUT", "/secrets/sp-tenant-id", status=401) == 1
    assert cloud.entra.tokens_issued(VAULT_AUDIENCE) == 1
    with pytest.raises(ResourceNotFoundError, match="SecretNotFound"):
        client.get_secret("nothing-here")


def test_without_verify_challenge_resource_off_the_client_refuses_a_loopback_vault(
    cloud: FakeCloud, vault_uri: str
) -> None:
    client = clients.secrets(cloud, vault_uri, verify_challenge_resource=True)
    with pytest.raises(ValueError, match="verify_challenge_resource=False"):
        client.set_secret("a", "b")


def test_secrets_are_listed_across_pages(cloud: FakeCloud, vault_uri: str) -> None:
    client = clients.secrets(cloud, vault_uri)
    for i in range(7):
        client.set_secret(f"s{i}", f"value-{i}")
    client.set_secret("s0", "second")
    names = sorted(p.name for p in client.list_properties_of_secrets(max_page_size=3))
    assert names == [f"s{i}" for i in range(7)]
    assert len(list(client.list_properties_of_secret_versions("s0"))) == 2
    assert client.get_secret("s0").value == "second"


def test_delete_goes_through_being_deleted_to_deleted_but_recoverable(
    cloud: FakeCloud, vault_uri: str, host: FakeVaultData
) -> None:
    client = clients.secrets(cloud, vault_uri)
    client.set_secret("sp-password", "s3cret-value")
    poller = client.begin_delete_secret("sp-password", **FAST)
    with pytest.raises(ResourceExistsError) as early:
        client.purge_deleted_secret("sp-password")
    assert _inner(early.value) == "ObjectIsBeingDeleted"
    poller.wait()
    assert poller.done()
    deleted = client.get_deleted_secret("sp-password")
    assert deleted.recovery_id.endswith("/deletedsecrets/sp-password")
    assert [d.name for d in client.list_deleted_secrets()] == ["sp-password"]
    assert host.server.count("GET", "/deletedsecrets/sp-password$", status=404) >= 1

    with pytest.raises(ResourceExistsError) as reused:
        client.set_secret("sp-password", "new")
    assert _inner(reused.value) == "ObjectIsDeletedButRecoverable"
    assert "deleted but recoverable" in str(reused.value)


def test_a_recovered_secret_comes_back_after_its_recovery_is_polled(
    cloud: FakeCloud, vault_uri: str
) -> None:
    client = clients.secrets(cloud, vault_uri)
    client.set_secret("alg-state", "dev")
    client.begin_delete_secret("alg-state", **FAST).wait()
    client.begin_recover_deleted_secret("alg-state", **FAST).wait()
    assert client.get_secret("alg-state").value == "dev"
    assert list(client.list_deleted_secrets()) == []


def test_a_purge_has_no_completion_signal_the_name_frees_later(
    cloud: FakeCloud, vault_uri: str
) -> None:
    client = clients.secrets(cloud, vault_uri)
    client.set_secret("db-token", "dapi-1234")
    client.begin_delete_secret("db-token", **FAST).wait()
    assert client.purge_deleted_secret("db-token") is None  # 204, nothing to wait on
    with pytest.raises(ResourceExistsError) as busy:
        client.set_secret("db-token", "dapi-5678")
    assert _inner(busy.value) == "ObjectIsBeingDeleted"
    reads = 0
    while True:  # the only way to know: poll the deleted secret until it is gone
        reads += 1
        try:
            client.get_deleted_secret("db-token")
        except ResourceNotFoundError:
            break
    assert reads == 2
    assert client.set_secret("db-token", "dapi-5678").value == "dapi-5678"


def test_concurrent_first_sets_from_one_client_each_meet_the_challenge_and_all_succeed(
    cloud: FakeCloud, vault_uri: str, host: FakeVaultData
) -> None:
    """Measured with 4.12: eight threads starting cold each get a 401 and most fetch a token
    of their own (7 tokens for 8 challenges) — and every set lands."""
    client = clients.secrets(cloud, vault_uri)
    names = sorted(f"secret-{i}" for i in range(16))
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda n: client.set_secret(n, f"v-{n}"), names))
    assert sorted(s.name for s in made) == names
    assert {client.get_secret(n).value for n in names} == {f"v-{n}" for n in names}
    assert 1 <= host.challenges <= 8
    assert host.server.count("PUT", "/secrets/", status=200) == 16
    before = (host.challenges, cloud.entra.tokens_issued(VAULT_AUDIENCE))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: client.set_secret(n, "again"), names))
    assert (host.challenges, cloud.entra.tokens_issued(VAULT_AUDIENCE)) == before


def test_one_call_before_the_burst_makes_it_one_challenge_and_one_token(
    cloud: FakeCloud, vault_uri: str, host: FakeVaultData
) -> None:
    client = clients.secrets(cloud, vault_uri)
    client.set_secret("created-by", "ada")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: client.set_secret(f"s{i}", str(i)), range(16)))
    assert host.challenges == 1
    assert cloud.entra.tokens_issued(VAULT_AUDIENCE) == 1


def test_throttling_unavailability_and_a_dropped_connection_are_retried(
    cloud: FakeCloud, vault_uri: str, host: FakeVaultData
) -> None:
    client = clients.secrets(cloud, vault_uri)
    client.set_secret("warm", "up")
    host.server.faults.add("PUT", "/secrets/sp-app-id$", Fault.throttle(retry_after=1))
    host.server.faults.add("PUT", "/secrets/sp-app-id$", Fault.unavailable())
    host.server.faults.add("GET", "/secrets/sp-app-id/?$", Fault.drop())  # get: a trailing /
    client.set_secret("sp-app-id", "3f9c1e2a")
    assert client.get_secret("sp-app-id").value == "3f9c1e2a"
    assert len(host.server.faults.fired) == 3
    assert len(list(client.list_properties_of_secret_versions("sp-app-id"))) == 1


def test_a_set_whose_answer_is_lost_is_retried_into_a_second_version(
    cloud: FakeCloud, vault_uri: str, host: FakeVaultData
) -> None:
    """PUT is retried by azure-core: harmless for a secret (same value), but it is a version."""
    client = clients.secrets(cloud, vault_uri)
    client.set_secret("warm", "up")
    host.server.faults.add("PUT", "/secrets/sp-password$", Fault.lose_answer())
    client.set_secret("sp-password", "s3cret-value")
    versions = list(client.list_properties_of_secret_versions("sp-password"))
    assert len(versions) == 2
    assert client.get_secret("sp-password").value == "s3cret-value"


def _inner(exc: Any) -> str:
    return str(exc.response.json()["error"]["innererror"]["code"])

"""The Machine Learning workspace as azure-ai-ml's MLClient makes, reads and deletes it:
create through an ARM template deployment, then the workspace's own REST resource."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from . import clients
from .cloud import SUBSCRIPTION_ID, FakeCloud
from .faults import Fault

GROUP = "contoso7-db-dev"


@pytest.fixture
def ml(cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from azure.ai.ml.constants._common import LROConfigurations

    # The deployment executor's own client trusts only what requests trusts (see clients).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cloud.server.ca_path))
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")  # restored after MLClient sets it
    # azure-ai-ml sleeps 5 s between its progress checks of a deployment and polls it every
    # 5 s (ARM's Retry-After: 0 does not shorten azure-core's wait).
    monkeypatch.setattr(LROConfigurations, "SLEEP_TIME", 0.05)
    monkeypatch.setattr(LROConfigurations, "POLL_INTERVAL", 0)
    clients.resources(cloud).resource_groups.create_or_update(GROUP, {"location": "westeurope"})
    yield clients.ml_client(cloud, GROUP)


def _workspace(name: str = "contoso7-mlw-dev") -> object:
    from azure.ai.ml.entities import Workspace

    return Workspace(name=name, location="westeurope", description="the lab's model registry",
                     tags={"created-by": "ada"})


def test_begin_create_deploys_a_template_then_reads_the_workspace(
    cloud: FakeCloud, ml: object
) -> None:
    made = ml.workspaces.begin_create(_workspace()).result()  # type: ignore[attr-defined]
    assert made.name == "contoso7-mlw-dev" and made.location == "westeurope"
    assert made.description == "the lab's model registry"
    assert made.storage_account.startswith(
        f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{GROUP}/providers/Microsoft.Storage/")
    assert "/providers/Microsoft.KeyVault/vaults/" in made.key_vault
    assert made.mlflow_tracking_uri.startswith("azureml://westeurope.api.azureml.ms/mlflow/")
    assert cloud.server.count("PUT", "/deployments/[^/]+$") == 1
    assert cloud.server.count("PUT", "/workspaces/contoso7-mlw-dev$") == 0  # a template, not a PUT
    got = ml.workspaces.get("contoso7-mlw-dev")  # type: ignore[attr-defined]
    assert got.id == made.id

    # Created again: azure-ai-ml finds it and updates it, no second deployment.
    ml.workspaces.begin_create(_workspace()).result()  # type: ignore[attr-defined]
    assert cloud.server.count("PUT", "/deployments/[^/]+$") == 1
    assert [w.name for w in ml.workspaces.list()] == ["contoso7-mlw-dev"]  # type: ignore[attr-defined]


def test_delete_is_a_long_running_operation_soft_by_default(cloud: FakeCloud, ml: object) -> None:
    ml.workspaces.begin_create(_workspace()).result()  # type: ignore[attr-defined]
    ml.workspaces.begin_delete(  # type: ignore[attr-defined]
        "contoso7-mlw-dev", delete_dependent_resources=False).result()
    with pytest.raises(ResourceNotFoundError, match="ResourceNotFound"):
        ml.workspaces.get("contoso7-mlw-dev")  # type: ignore[attr-defined]
    assert cloud.ml.soft_deleted == ["contoso7-mlw-dev"]

    ml.workspaces.begin_create(_workspace("w2")).result()  # type: ignore[attr-defined]
    ml.workspaces.begin_delete(  # type: ignore[attr-defined]
        "w2", delete_dependent_resources=False, permanently_delete=True).result()
    assert cloud.ml.purged == ["w2"]
    assert cloud.server.count("DELETE", "/workspaces/w2$") == 1


def test_a_create_survives_throttling_and_a_dropped_status_poll(
    cloud: FakeCloud, ml: object
) -> None:
    cloud.server.faults.add("PUT", "/deployments/", Fault.throttle(0))
    cloud.server.faults.add("GET", "/operationStatuses/", Fault.drop())
    made = ml.workspaces.begin_create(_workspace()).result()  # type: ignore[attr-defined]
    assert made.name == "contoso7-mlw-dev"
    assert [f.fault.kind for f in cloud.server.faults.fired] == ["status", "drop"]
    assert len(cloud.ml.workspaces) == 1


def test_the_workspace_resource_takes_a_plain_put_too(cloud: FakeCloud) -> None:
    """azure-mgmt-machinelearningservices' way (and the REST API's): PUT the workspace."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import (
        BearerTokenCredentialPolicy,
        RequestIdPolicy,
        RetryPolicy,
    )
    from azure.core.polling import LROPoller
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.polling.arm_polling import ARMPolling

    clients.resources(cloud).resource_groups.create_or_update(GROUP, {"location": "westeurope"})
    client: PipelineClient[Any, Any] = PipelineClient(
        cloud.url, transport=clients.transport(cloud), policies=[
        RequestIdPolicy(), RetryPolicy(retry_backoff_factor=0.05),
        BearerTokenCredentialPolicy(clients.credential(cloud), clients.MANAGEMENT_SCOPE)])
    path = (f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{GROUP}/providers/"
            "Microsoft.MachineLearningServices/workspaces/w3")
    initial = client._pipeline.run(HttpRequest(
        "PUT", f"{cloud.url}{path}?api-version=2024-10-01",
        json={"location": "westeurope", "properties": {"friendlyName": "w3"}}))
    assert initial.http_response.status_code == 201
    assert initial.http_response.json()["properties"]["provisioningState"] == "Creating"
    poller = LROPoller(client, initial, lambda r: r.http_response.json(), ARMPolling(0))
    assert poller.result()["properties"]["provisioningState"] == "Succeeded"

"""Azure Databricks workspaces through azure-mgmt-databricks 3: the Premium workspace the lab
makes, with classic (Hybrid) compute and its managed resource group, as long-running
operations."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from . import clients
from .cloud import SUBSCRIPTION_ID, FakeCloud
from .faults import Fault

MRG = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/contoso7-db-dev-managed"


def _workspace(**properties: Any) -> Any:
    from azure.mgmt.databricks.models import Sku, Workspace, WorkspaceProperties

    props = {"compute_mode": "Hybrid", "managed_resource_group_id": MRG, **properties}
    return Workspace(location="westeurope", sku=Sku(name="premium"),
                     properties=WorkspaceProperties(**props), tags={"created-by": "ada"})


def _group(cloud: FakeCloud) -> None:
    clients.resources(cloud).resource_groups.create_or_update("contoso7-db-dev",
                                                              {"location": "westeurope"})


def test_a_premium_hybrid_workspace_is_created_with_its_managed_group(cloud: FakeCloud) -> None:
    _group(cloud)
    client = clients.databricks_workspaces(cloud)
    poller = client.workspaces.begin_create_or_update("contoso7-db-dev", "contoso7-dbw-dev",
                                                      _workspace())
    made = poller.result()
    assert made.properties.provisioning_state == "Succeeded"
    assert made.sku.name == "premium" and made.properties.compute_mode == "Hybrid"
    assert made.properties.workspace_url.startswith(f"adb-{made.properties.workspace_id}.")
    assert cloud.server.count("GET", "/operationStatuses/") == 2
    managed = clients.resources(cloud).resource_groups.get("contoso7-db-dev-managed")
    assert managed.managed_by == made.id

    again = client.workspaces.begin_create_or_update("contoso7-db-dev", "contoso7-dbw-dev",
                                                     _workspace()).result()
    assert again.properties.workspace_id == made.properties.workspace_id
    assert cloud.server.count("PUT", "/workspaces/contoso7-dbw-dev$", status=201) == 1
    assert [w.name for w in client.workspaces.list_by_resource_group("contoso7-db-dev")] == [
        "contoso7-dbw-dev"]


def test_compute_mode_is_required_and_hybrid_needs_a_managed_group(cloud: FakeCloud) -> None:
    from azure.mgmt.databricks.models import Sku, Workspace, WorkspaceProperties

    _group(cloud)
    client = clients.databricks_workspaces(cloud)
    bare = Workspace(location="westeurope", sku=Sku(name="premium"),
                     properties=WorkspaceProperties(managed_resource_group_id=MRG))
    with pytest.raises(HttpResponseError, match="computeMode"):
        client.workspaces.begin_create_or_update("contoso7-db-dev", "w1", bare).result()
    with pytest.raises(HttpResponseError, match="required in Hybrid"):
        client.workspaces.begin_create_or_update(
            "contoso7-db-dev", "w1", _workspace(managed_resource_group_id=None)).result()
    with pytest.raises(HttpResponseError, match="not allowed in Serverless"):
        client.workspaces.begin_create_or_update(
            "contoso7-db-dev", "w1", _workspace(compute_mode="Serverless")).result()
    client.workspaces.begin_create_or_update("contoso7-db-dev", "w1", _workspace()).result()
    with pytest.raises(HttpResponseError, match="cannot be changed"):
        client.workspaces.begin_create_or_update(
            "contoso7-db-dev", "w1", _workspace(compute_mode="Serverless",
                                                managed_resource_group_id=None)).result()


def test_a_delete_resumes_from_its_token_and_takes_the_managed_group(cloud: FakeCloud) -> None:
    _group(cloud)
    client = clients.databricks_workspaces(cloud)
    client.workspaces.begin_create_or_update("contoso7-db-dev", "w1", _workspace()).result()
    cloud.operations.retry_after = 1  # the first poller waits, as one killed mid-wait would
    cloud.databricks.delete_polls = 3
    token = client.workspaces.begin_delete("contoso7-db-dev", "w1").continuation_token()
    assert client.workspaces.get("contoso7-db-dev", "w1").properties.provisioning_state == (
        "Deleting")

    again = clients.databricks_workspaces(cloud)  # a new process, the token from the journal
    again.workspaces.begin_delete(None, None, continuation_token=token).result()
    with pytest.raises(ResourceNotFoundError, match="ResourceNotFound"):
        again.workspaces.get("contoso7-db-dev", "w1")
    assert not clients.resources(cloud).resource_groups.check_existence("contoso7-db-dev-managed")
    assert cloud.server.count("DELETE", "/workspaces/w1$") == 1
    again.workspaces.begin_delete("contoso7-db-dev", "w1").result()  # 204: already gone


def test_a_create_survives_throttling_and_a_dropped_poll_without_a_second_workspace(
    cloud: FakeCloud,
) -> None:
    _group(cloud)
    cloud.server.faults.add("PUT", "/workspaces/w1$", Fault.throttle(0))
    cloud.server.faults.add("GET", "/operationStatuses/", Fault.drop())
    client = clients.databricks_workspaces(cloud)
    made = client.workspaces.begin_create_or_update("contoso7-db-dev", "w1", _workspace()).result()
    assert made.properties.provisioning_state == "Succeeded"
    assert [f.fault.kind for f in cloud.server.faults.fired] == ["status", "drop"]
    assert cloud.server.count("PUT", "/workspaces/w1$", status=201) == 1


def test_an_unregistered_provider_and_a_missing_group_are_refused(cloud: FakeCloud) -> None:
    client = clients.databricks_workspaces(cloud)
    with pytest.raises(ResourceNotFoundError, match="ResourceGroupNotFound"):
        client.workspaces.begin_create_or_update("contoso7-db-dev", "w1", _workspace()).result()
    _group(cloud)
    cloud.arm.require_registration = True
    with pytest.raises(HttpResponseError, match="MissingSubscriptionRegistration"):
        client.workspaces.begin_create_or_update("contoso7-db-dev", "w1", _workspace()).result()


def test_deleting_the_group_removes_its_workspaces(cloud: FakeCloud) -> None:
    _group(cloud)
    client = clients.databricks_workspaces(cloud)
    client.workspaces.begin_create_or_update("contoso7-db-dev", "w1", _workspace()).result()
    clients.resources(cloud).resource_groups.begin_delete("contoso7-db-dev").result()
    assert cloud.databricks.workspaces == {}
    assert "contoso7-db-dev-managed" not in cloud.arm.groups


def test_the_same_put_while_creating_meets_the_creation_under_way(cloud: FakeCloud) -> None:
    """A client whose first answer was lost sends the PUT again: it is pointed at the one
    creation running (the same monitor), which ends with one workspace."""
    _group(cloud)
    cloud.server.faults.add("PUT", "/workspaces/contoso7-dbw-dev$", Fault.lose_answer())
    client = clients.databricks_workspaces(cloud)
    made = client.workspaces.begin_create_or_update("contoso7-db-dev", "contoso7-dbw-dev",
                                                    _workspace()).result()
    assert made.properties.provisioning_state == "Succeeded"
    assert cloud.server.count("PUT", "/workspaces/contoso7-dbw-dev$", status=201) == 2
    monitors = {e.path for e in cloud.server.log if "/operationStatuses/" in e.path}
    assert len(monitors) == 1, "one creation, polled by its one monitor"
    assert [w.name for w in client.workspaces.list_by_resource_group("contoso7-db-dev")] == [
        "contoso7-dbw-dev"]

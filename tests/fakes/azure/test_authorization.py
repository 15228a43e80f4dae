"""Role assignments through azure-mgmt-authorization, for a service principal made through
Graph: principal_type, RoleAssignmentExists, PrincipalNotFound while the directory replicates,
and the data lake's 403 until the role has propagated."""

from __future__ import annotations

import time
import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError

from . import clients
from .cloud import SUBSCRIPTION_ID, TENANT_ID, FakeCloud
from .test_storage import _lake

CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"  # Storage Blob Data Contributor
ROLE_ID = (f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/"
           f"roleDefinitions/{CONTRIBUTOR}")
SCOPE = (f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg1/providers/Microsoft.Storage/"
         "storageAccounts/contoso7dl")


def _principal(cloud: FakeCloud) -> tuple[str, str, str]:
    """A new service principal: (object id, app id, password)."""
    graph = clients.Graph(cloud)
    _, app = graph.call("POST", "/applications", {"displayName": "contoso7-sp-dev"})
    _, sp = graph.call("POST", "/servicePrincipals", {"appId": app["appId"]})
    _, password = graph.call("POST", f"/applications/{app['id']}/addPassword", {})
    return sp["id"], app["appId"], password["secretText"]


def _assign(cloud: FakeCloud, principal: str, name: str | None = None,
            principal_type: str | None = "ServicePrincipal") -> object:
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

    params = RoleAssignmentCreateParameters(role_definition_id=ROLE_ID, principal_id=principal,
                                            principal_type=principal_type)
    return clients.authorization(cloud).role_assignments.create(
        SCOPE, name or str(uuid.uuid4()), params)


def test_an_assignment_with_principal_type_is_made_and_a_second_one_is_role_assignment_exists(
    cloud: FakeCloud,
) -> None:
    _lake(cloud)
    principal, _, _ = _principal(cloud)
    name = str(uuid.uuid4())
    made = _assign(cloud, principal, name)
    assert (made.principal_id, made.principal_type, made.scope) == (  # type: ignore[attr-defined]
        principal, "ServicePrincipal", SCOPE)
    assert _assign(cloud, principal, name).name == name  # type: ignore[attr-defined]
    with pytest.raises(ResourceExistsError, match="RoleAssignmentExists"):
        _assign(cloud, principal)
    client = clients.authorization(cloud).role_assignments
    listed = list(client.list_for_scope(SCOPE, filter=f"principalId eq '{principal}'"))
    assert [a.name for a in listed] == [name]
    assert client.delete(SCOPE, name).name == name
    assert client.delete(SCOPE, name) is None  # 204: already gone
    assert list(client.list_for_scope(SCOPE)) == []


def test_a_principal_just_made_is_not_found_without_its_type(cloud: FakeCloud) -> None:
    cloud.authorization.replication_delay = 60
    _lake(cloud)
    principal, _, _ = _principal(cloud)
    with pytest.raises(HttpResponseError, match="PrincipalNotFound") as caught:
        _assign(cloud, principal, principal_type=None)
    assert caught.value.status_code == 400
    assert "set the role assignment principalType" in str(caught.value)
    assert _assign(cloud, principal).principal_type == "ServicePrincipal"  # type: ignore[attr-defined]


def test_unknown_principals_roles_and_mismatched_types_are_refused(cloud: FakeCloud) -> None:
    _lake(cloud)
    with pytest.raises(HttpResponseError, match="PrincipalNotFound"):
        _assign(cloud, str(uuid.uuid4()))
    principal, _, _ = _principal(cloud)
    with pytest.raises(HttpResponseError, match="UnmatchedPrincipalType"):
        _assign(cloud, principal, principal_type="User")
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

    bad = RoleAssignmentCreateParameters(
        role_definition_id=ROLE_ID.replace(CONTRIBUTOR, str(uuid.uuid4())),
        principal_id=principal, principal_type="ServicePrincipal")
    with pytest.raises(HttpResponseError, match="RoleDefinitionDoesNotExist"):
        clients.authorization(cloud).role_assignments.create(SCOPE, str(uuid.uuid4()), bad)


def test_the_data_lake_answers_403_until_the_role_has_propagated(cloud: FakeCloud) -> None:
    from azure.identity import ClientSecretCredential
    from azure.storage.filedatalake import DataLakeServiceClient, LinearRetry

    cloud.authorization.propagation = 1.0
    dfs = _lake(cloud)
    clients.datalake(cloud, dfs).create_file_system("datalake")  # the attendee, an owner
    principal, app_id, secret = _principal(cloud)
    as_sp = DataLakeServiceClient(dfs, ClientSecretCredential(
        TENANT_ID, app_id, secret, authority=cloud.url, disable_instance_discovery=True,
        transport=clients.transport(cloud)), transport=clients.transport(cloud),
        retry_policy=LinearRetry(backoff=0.1, random_jitter_range=0.05))
    lake = as_sp.get_file_system_client("datalake")
    with pytest.raises(HttpResponseError, match="AuthorizationPermissionMismatch") as caught:
        lake.get_file_system_properties()
    assert caught.value.status_code == 403

    _assign(cloud, principal)
    made = time.time()
    with pytest.raises(HttpResponseError, match="AuthorizationPermissionMismatch"):
        lake.get_file_system_properties()  # assigned, not yet propagated
    time.sleep(max(0.0, made + 1.0 - time.time()))  # the propagation itself
    assert lake.get_file_system_properties().name == "datalake"

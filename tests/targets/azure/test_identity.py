"""The azure target's identity port on the fakes of Graph and RBAC: a password that takes
seconds to work, a create cut off half-way, RoleAssignmentExists, PrincipalNotFound while the
directory replicates, and Graph's faults — with no duplicate application or assignment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labtui.targets.azure import AzureTarget
from labtui.targets.azure.identity import AzureIdentity
from labtui.targets.errors import NotFound, Transient
from tests.fakes.azure import clients
from tests.fakes.azure.cloud import TENANT_ID, FakeCloud
from tests.fakes.azure.faults import Fault

from .conftest import open_target

ROLE = "Storage Blob Data Contributor"
CONTRIBUTOR_ID = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


@pytest.fixture
def target(tmp_path: Path, cloud: FakeCloud) -> Iterator[AzureTarget]:
    opened = open_target(tmp_path, cloud)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def scope(target: AzureTarget) -> str:
    return target.resource_groups.create("contoso7-db-dev", "westeurope").id


def test_a_new_password_is_transient_while_entra_replicates_it_then_signs_in(
        cloud: FakeCloud, target: AzureTarget) -> None:
    cloud.graph.password_delay = 1.0
    made = target.principals.create_service_principal("contoso7-sp", TENANT_ID)
    assert made.password
    with pytest.raises(Transient, match="does not sign in yet") as young:
        target.principals.check_password(made.app_id, made.password)
    assert made.password not in str(young.value)
    assert target.principals.check_password(made.app_id, "wrong-password") is False, (
        "a wrong password is wrong at once")
    cloud.entra.add_client(made.app_id, made.password)  # replicated now
    assert target.principals.check_password(made.app_id, made.password) is True


def test_an_old_password_that_does_not_sign_in_is_false(
        cloud: FakeCloud, target: AzureTarget) -> None:
    cloud.graph.password_delay = 3600.0
    made = target.principals.create_service_principal("contoso7-sp", TENANT_ID)
    principals = target.principals
    assert isinstance(principals, AzureIdentity) and made.password
    principals.password_propagation = 0.0
    assert principals.check_password(made.app_id, made.password) is False


def test_a_create_cut_off_after_the_application_completes_it(
        cloud: FakeCloud, target: AzureTarget) -> None:
    target.principals.find_service_principal  # noqa: B018 - built and signed in first
    cloud.server.faults.add("POST", r"/v1\.0/servicePrincipals$", Fault.unavailable(), times=20)
    with pytest.raises(Transient, match="HTTP 503"):
        target.principals.create_service_principal("contoso7-sp", TENANT_ID)
    assert len(cloud.graph.applications) == 1 and not cloud.graph.service_principals
    cloud.server.faults.clear()
    made = target.principals.create_service_principal("contoso7-sp", TENANT_ID)
    assert len(cloud.graph.applications) == 1, "the same application, completed"
    assert [sp.app_id for sp in cloud.graph.service_principals.values()] == [made.app_id]


@pytest.mark.parametrize("fault", [Fault.throttle(retry_after=0.2), Fault.unavailable()],
                         ids=["429-retry-after", "503"])
def test_graph_faults_are_retried_by_the_pipeline_with_one_application(
        cloud: FakeCloud, target: AzureTarget, fault: Fault) -> None:
    target.principals.find_service_principal  # noqa: B018
    cloud.server.faults.add("POST", r"/v1\.0/applications$", fault)
    made = target.principals.create_service_principal("contoso7-sp", TENANT_ID)
    assert len(cloud.server.faults.fired) == 1
    assert [a.app_id for a in cloud.graph.applications.values()] == [made.app_id]


@pytest.mark.parametrize("fault", [Fault.drop(), Fault.lose_answer()],
                         ids=["dropped", "answer-lost"])
def test_a_post_cut_off_is_transient_and_the_retry_makes_no_second_application(
        cloud: FakeCloud, target: AzureTarget, fault: Fault) -> None:
    """azure-core does not repeat a POST whose connection broke (it may have been served):
    the port says Transient in one line, and the engine's retry of the step finds what the
    first try made."""
    target.principals.find_service_principal  # noqa: B018
    cloud.server.faults.add("POST", r"/v1\.0/applications$", fault)
    with pytest.raises(Transient) as cut:
        target.principals.create_service_principal("contoso7-sp", TENANT_ID)
    assert "Microsoft Graph did not answer" in str(cut.value) and "\n" not in str(cut.value)
    made = target.principals.create_service_principal("contoso7-sp", TENANT_ID)
    assert [a.app_id for a in cloud.graph.applications.values()] == [made.app_id]
    assert len(cloud.graph.service_principals) == 1


def test_an_assignment_made_under_another_name_is_the_one_asked_for(
        cloud: FakeCloud, target: AzureTarget, scope: str) -> None:
    made = target.principals.create_service_principal("contoso7-sp", TENANT_ID)
    # Made by hand (the portal, `az role assignment create`) under a name of its own.
    clients.authorization(cloud).role_assignments.create(
        scope, "7d8e4a1c-0b2f-4e6d-9a3c-5f1e2d3c4b5a", {
            "role_definition_id": f"/subscriptions/{target.subscription_id}/providers/"
                                  f"Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR_ID}",
            "principal_id": made.object_id, "principal_type": "ServicePrincipal"})
    assigned = target.principals.assign_role(made.object_id, ROLE, scope)
    assert assigned.id.endswith("/7d8e4a1c-0b2f-4e6d-9a3c-5f1e2d3c4b5a")
    assert len(cloud.authorization.assignments) == 1, "no duplicate"
    assert cloud.server.count("PUT", "/roleAssignments/", status=409) == 1


def test_the_assignment_names_the_principal_type(
        cloud: FakeCloud, target: AzureTarget, scope: str) -> None:
    cloud.authorization.replication_delay = 3600.0  # without a type ARM would not find it
    made = target.principals.create_service_principal("contoso7-sp", TENANT_ID)
    target.principals.assign_role(made.object_id, ROLE, scope)
    [assignment] = cloud.authorization.assignments.values()
    assert assignment.principal_type == "ServicePrincipal"


def test_principal_not_found_right_after_creation_is_transient_then_assigned_once(
        cloud: FakeCloud, target: AzureTarget, scope: str) -> None:
    made = target.principals.create_service_principal("contoso7-sp", TENANT_ID)
    cloud.server.faults.add("PUT", "/roleAssignments/", Fault.refuse(400, "PrincipalNotFound"))
    with pytest.raises(Transient, match="does not have the new principal everywhere yet"):
        target.principals.assign_role(made.object_id, ROLE, scope)
    assigned = target.principals.assign_role(made.object_id, ROLE, scope)
    assert [a.principal_id for a in target.principals.role_assignments(scope)] == [
        made.object_id]
    assert assigned.role == ROLE


def test_deleting_the_principal_removes_its_role_assignments(
        cloud: FakeCloud, target: AzureTarget, scope: str) -> None:
    made = target.principals.create_service_principal("contoso7-sp", TENANT_ID)
    target.principals.assign_role(made.object_id, ROLE, scope)
    assert target.principals.delete_service_principal(made.app_id) is True
    assert not cloud.authorization.assignments and not cloud.graph.applications
    with pytest.raises(NotFound):
        target.principals.get_service_principal(made.app_id)

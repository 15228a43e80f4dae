"""Microsoft Graph's applications, passwords and service principals, over REST with an
azure-identity token, as the Azure target calls them."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import ClientAuthenticationError

from . import clients
from .cloud import TENANT_ID, FakeCloud
from .faults import Fault


def _sign_in(cloud: FakeCloud, app_id: str, secret: str) -> str:
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(TENANT_ID, app_id, secret, authority=cloud.url,
                                        disable_instance_discovery=True,
                                        transport=clients.transport(cloud))
    return credential.get_token(clients.MANAGEMENT_SCOPE).token


def _app_with_principal(cloud: FakeCloud, graph: clients.Graph) -> tuple[dict, dict]:
    status, app = graph.call("POST", "/applications", {"displayName": "contoso7-sp-dev"})
    assert status == 201
    status, sp = graph.call("POST", "/servicePrincipals", {"appId": app["appId"]})
    assert status == 201
    return app, sp


def test_an_application_its_principal_and_a_password_returned_once(cloud: FakeCloud) -> None:
    graph = clients.Graph(cloud)
    app, sp = _app_with_principal(cloud, graph)
    assert sp["appId"] == app["appId"] and sp["servicePrincipalType"] == "Application"

    status, password = graph.call("POST", f"/applications/{app['id']}/addPassword",
                                  {"passwordCredential": {"displayName": "labtui"}})
    assert status == 200
    secret = password["secretText"]
    assert len(secret) == 40 and password["hint"] == secret[:3]
    # Never again: reads list the password without its text.
    _, again = graph.call("GET", f"/applications(appId='{app['appId']}')")
    [listed] = again["passwordCredentials"]
    assert listed == {k: (None if k == "secretText" else v) for k, v in password.items()
                      if k != "@odata.context"}
    assert secret not in str(again)

    claims = cloud.entra.claims_of(_sign_in(cloud, app["appId"], secret))
    assert claims is not None and claims["oid"] == sp["id"] and claims["appid"] == app["appId"]


def test_a_new_password_works_only_after_it_has_replicated(cloud: FakeCloud) -> None:
    cloud.graph.password_delay = 1.0
    graph = clients.Graph(cloud)
    app, _ = _app_with_principal(cloud, graph)
    _, password = graph.call("POST", f"/applications/{app['id']}/addPassword", {})
    made = time.time()
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        _sign_in(cloud, app["appId"], password["secretText"])
    time.sleep(max(0.0, made + 1.0 - time.time()))  # the replication delay itself
    assert _sign_in(cloud, app["appId"], password["secretText"])


def test_without_its_service_principal_an_application_cannot_sign_in(cloud: FakeCloud) -> None:
    graph = clients.Graph(cloud)
    _, app = graph.call("POST", "/applications", {"displayName": "contoso7-sp-dev"})
    _, password = graph.call("POST", f"/applications/{app['id']}/addPassword", {})
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000229"):
        _sign_in(cloud, app["appId"], password["secretText"])


def test_lookups_by_filter_and_a_delete_that_takes_the_principal_along(cloud: FakeCloud) -> None:
    graph = clients.Graph(cloud)
    app, sp = _app_with_principal(cloud, graph)
    _, found = graph.call("GET", "/applications", **{"$filter": f"appId eq '{app['appId']}'"})
    assert [a["id"] for a in found["value"]] == [app["id"]]
    _, named = graph.call("GET", "/servicePrincipals",
                          **{"$filter": "displayName eq 'contoso7-sp-dev'"})
    assert [s["id"] for s in named["value"]] == [sp["id"]]
    status, body = graph.call("POST", "/servicePrincipals", {"appId": app["appId"]})
    assert (status, body["error"]["code"]) == (409, "Request_MultipleObjectsWithSameKeyValue")

    assert graph.call("DELETE", f"/applications(appId='{app['appId']}')") == (204, None)
    status, body = graph.call("GET", f"/applications/{app['id']}")
    assert (status, body["error"]["code"]) == (404, "Request_ResourceNotFound")
    assert graph.call("GET", f"/servicePrincipals/{sp['id']}")[0] == 404
    status, body = graph.call("POST", "/servicePrincipals", {"appId": app["appId"]})
    assert (status, body["error"]["code"]) == (400, "Request_BadRequest")


def test_a_token_for_another_audience_is_refused(cloud: FakeCloud) -> None:
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy
    from azure.core.rest import HttpRequest

    arm_token_client = PipelineClient(cloud.url, transport=clients.transport(cloud), policies=[
        BearerTokenCredentialPolicy(clients.credential(cloud), clients.MANAGEMENT_SCOPE)])
    response = arm_token_client.send_request(HttpRequest("GET", f"{cloud.url}/v1.0/applications"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_throttling_is_retried_by_the_pipeline(cloud: FakeCloud) -> None:
    graph = clients.Graph(cloud)
    cloud.server.faults.add("GET", "/v1.0/applications$", Fault.throttle(0), times=2)
    assert graph.call("GET", "/applications")[0] == 200
    assert len(cloud.server.faults.fired) == 2

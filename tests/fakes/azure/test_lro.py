"""ARM's long-running-operation machinery, driven by azure-mgmt-core's own ARMPolling.

The resource here is a test's own (Databricks and ML workspaces answer their PUT this way: 201,
`provisioningState: Accepted`, and an `Azure-AsyncOperation` status monitor), so the machinery
is shown by itself: InProgress for N polls, then Succeeded (and the final GET) or Failed.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from azure.core import PipelineClient
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.policies import (
    BearerTokenCredentialPolicy,
    RequestIdPolicy,
    RetryPolicy,
)
from azure.core.polling import LROPoller
from azure.core.rest import HttpRequest
from azure.mgmt.core.polling.arm_polling import ARMPolling

from . import clients
from .cloud import SUBSCRIPTION_ID, FakeCloud
from .faults import Fault
from .server import Request, Response

PATH = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg1/providers/Microsoft.Demo/things/t1"


def _serve_thing(cloud: FakeCloud, polls: int, failure: tuple[int, str, str] | None) -> dict[
    str, Any
]:
    thing: dict[str, Any] = {"id": PATH, "name": "t1", "properties": {}}

    def put(request: Request, match: re.Match[str]) -> Response:
        thing["properties"] = {**request.json()["properties"], "provisioningState": "Accepted"}

        def done() -> None:
            thing["properties"]["provisioningState"] = "Succeeded"

        op = cloud.operations.start(polls, done, failure)
        headers = cloud.operations.headers(op, SUBSCRIPTION_ID, "Microsoft.Demo",
                                           async_operation=True, location=False)
        return Response(201, thing, headers)

    cloud.server.route("PUT", PATH, put)
    cloud.server.route("GET", PATH, lambda request, match: Response(200, thing))
    return thing


def _begin(cloud: FakeCloud) -> LROPoller[Any]:
    client: PipelineClient[Any, Any] = PipelineClient(
        cloud.url,
        policies=[
            RequestIdPolicy(),
            RetryPolicy(retry_backoff_factor=0.05),
            BearerTokenCredentialPolicy(clients.credential(cloud), clients.MANAGEMENT_SCOPE),
        ],
        transport=clients.transport(cloud),
    )
    request = HttpRequest("PUT", f"{cloud.url}{PATH}?api-version=2024-05-01",
                          json={"properties": {"sku": "premium"}})
    initial = client._pipeline.run(request)
    return LROPoller(client, initial, lambda r: r.http_response.json(), ARMPolling(0))


def test_an_operation_in_progress_for_three_polls_then_succeeds(cloud: FakeCloud) -> None:
    _serve_thing(cloud, polls=3, failure=None)
    cloud.server.faults.add("GET", "/operationStatuses/", Fault.drop())
    result = _begin(cloud).result()
    assert result["properties"]["provisioningState"] == "Succeeded"
    assert cloud.server.count("GET", "/operationStatuses/", status=200) == 3
    assert cloud.server.count("GET", PATH) == 1  # the final GET, after Succeeded
    assert [f.fault.kind for f in cloud.server.faults.fired] == ["drop"]


def test_a_failed_operation_is_an_error_with_its_code(cloud: FakeCloud) -> None:
    _serve_thing(cloud, polls=2, failure=(400, "QuotaExceeded", "Not enough cores."))
    poller = _begin(cloud)
    with pytest.raises(HttpResponseError, match="QuotaExceeded"):
        poller.result()
    assert poller.status() == "Failed"

"""Azure Machine Learning workspaces (Microsoft.MachineLearningServices/workspaces) and the ARM
template deployment azure-ai-ml creates them with.

`MLClient.workspaces.begin_create(Workspace(...))` does not PUT the workspace: it deploys an ARM
template (`PUT …/resourcegroups/{group}/deployments/{name}`, api-version 2020-06-01)
whose parameters name the workspace and its dependent resources, polls the deployment's
`Azure-AsyncOperation` monitor, lists the deployment's operations to print progress, then reads
the workspace. `get` and `begin_delete` talk to the workspace itself. What the fake keeps
faithful:
- a deployment answers 201 `Accepted`, then (after `deploy_polls` status reads) `Succeeded`
  with its `duration`; only then does the workspace exist, with the storage account, key vault
  and Application Insights ids its parameters name (the fake records them; it does not make
  them), a `workspaceId`, `discoveryUrl` and `mlFlowTrackingUri`; a template without a
  workspace resource is 400 InvalidTemplate (this fake deploys nothing else);
- `PUT` of the workspace itself works too (azure-mgmt-machinelearningservices' way): 201 with
  an `Azure-AsyncOperation` monitor;
- `PATCH` (what a second `begin_create` of an existing workspace sends) changes its tags,
  friendly name and description; `GET` a missing workspace is 404 ResourceNotFound;
  `DELETE` answers 202 with `Location`, the workspace reads `Deleting` until the operation
  ends; without `forceToPurge=true` it is soft-deleted (kept in `soft_deleted`, as Azure keeps
  it 14 days), with it, purged;
- deleting the resource group removes its workspaces.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .arm import GROUP, FakeArm
from .lro import Operation, Operations
from .server import Request, Response, error

ML = "Microsoft.MachineLearningServices"
WORKSPACE = GROUP + r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<name>[^/]+)"
# ARM serves deployments at both paths; azure-ai-ml's vendored client uses the short one.
DEPLOYMENT = GROUP + r"(?:/providers/Microsoft\.Resources)?/deployments/(?P<name>[^/]+)"


@dataclass
class MlWorkspace:
    name: str
    group: str
    body: dict[str, Any]
    deletion: Operation | None = None


@dataclass
class Deployment:
    name: str
    group: str
    body: dict[str, Any]
    started: float
    workspace_id: str = ""


def _value(parameters: dict[str, Any], name: str, default: Any = None) -> Any:
    entry = parameters.get(name)
    return entry.get("value", default) if isinstance(entry, dict) else default


@dataclass
class FakeMachineLearning:
    arm: FakeArm
    operations: Operations
    deploy_polls: int = 2
    create_polls: int = 1
    delete_polls: int = 2
    workspaces: dict[tuple[str, str], MlWorkspace] = field(default_factory=dict)
    deployments: dict[tuple[str, str], Deployment] = field(default_factory=dict)
    soft_deleted: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        g, route = self.arm.guard, self.arm.fake.route
        route("PUT", WORKSPACE, g(self._put_workspace))
        route("GET", WORKSPACE, g(self._get_workspace))
        route("PATCH", WORKSPACE, g(self._patch_workspace))
        route("DELETE", WORKSPACE, g(self._delete_workspace))
        route("GET", GROUP + r"/providers/Microsoft\.MachineLearningServices/workspaces",
              g(self._list_workspaces))
        route("PUT", DEPLOYMENT, g(self._put_deployment))
        route("GET", DEPLOYMENT, g(self._get_deployment))
        route("GET", DEPLOYMENT + r"/operations", g(self._deployment_operations))
        self.arm.group_deleted_hooks.append(self._group_deleted)

    # --- the workspace ----------------------------------------------------------------------

    def _rid(self, group: str, name: str) -> str:
        return (f"/subscriptions/{self.arm.subscription_id}/resourceGroups/{group}/providers/"
                f"{ML}/workspaces/{name}")

    def _missing(self, match: re.Match[str]) -> Response:
        return error(404, "ResourceNotFound",
                     f"The Resource '{ML}/workspaces/{match['name']}' under resource group "
                     f"'{match['group']}' was not found. For more details please go to "
                     "https://aka.ms/ARMResourceNotFoundFix")

    def _workspace_body(self, group: str, name: str, location: str, props: dict[str, Any],
                        tags: dict[str, str], kind: str) -> dict[str, Any]:
        workspace_id = str(uuid.uuid4())
        rid = self._rid(group, name)
        api = f"https://{location}.api.azureml.ms"
        return {
            "id": rid, "name": name, "type": f"{ML}/workspaces", "location": location,
            "kind": kind or "Default", "tags": tags,
            "identity": {"type": "SystemAssigned", "principalId": str(uuid.uuid4()),
                         "tenantId": self.arm.entra.tenant_id},
            "sku": {"name": "Basic", "tier": "Basic"},
            "properties": {
                "friendlyName": props.get("friendlyName") or name,
                "description": props.get("description") or "",
                "storageAccount": props.get("storageAccount"),
                "keyVault": props.get("keyVault"),
                "applicationInsights": props.get("applicationInsights"),
                "containerRegistry": props.get("containerRegistry"),
                "workspaceId": workspace_id,
                "discoveryUrl": f"{api}/discovery",
                "mlFlowTrackingUri": f"azureml://{location}.api.azureml.ms/mlflow/v1.0{rid}",
                "hbiWorkspace": False, "publicNetworkAccess": "Enabled",
                "v1LegacyMode": False, "provisioningState": "Succeeded",
            },
        }

    def _check(self, group: str) -> Response | None:
        return self.arm.check_group(group) or self.arm.check_registered(ML)

    def _put_workspace(self, request: Request, match: re.Match[str]) -> Response:
        refused = self._check(match["group"])
        if refused is not None:
            return refused
        body = request.json() or {}
        if not body.get("location"):
            return error(400, "LocationRequired",
                         "The location property is required for this definition.")
        key = (match["group"].lower(), match["name"].lower())
        existing = self.workspaces.get(key)
        if existing is not None:
            existing.body["tags"] = body.get("tags") or existing.body["tags"]
            return Response(200, existing.body)
        made = self._workspace_body(match["group"], match["name"], body["location"],
                                    body.get("properties") or {}, body.get("tags") or {},
                                    body.get("kind", ""))
        made["properties"]["provisioningState"] = "Creating"
        self.workspaces[key] = MlWorkspace(match["name"], match["group"], made)

        def created() -> None:
            made["properties"]["provisioningState"] = "Succeeded"

        op = self.operations.start(self.create_polls, created)
        headers = self.operations.headers(op, self.arm.subscription_id, ML,
                                          async_operation=True, location=False)
        return Response(201, made, headers)

    def _get_workspace(self, request: Request, match: re.Match[str]) -> Response:
        found = self.workspaces.get((match["group"].lower(), match["name"].lower()))
        return Response(200, found.body) if found else self._missing(match)

    def _patch_workspace(self, request: Request, match: re.Match[str]) -> Response:
        found = self.workspaces.get((match["group"].lower(), match["name"].lower()))
        if found is None:
            return self._missing(match)
        changes = request.json() or {}
        if changes.get("tags") is not None:
            found.body["tags"] = changes["tags"]
        for key in ("friendlyName", "description"):
            value = (changes.get("properties") or {}).get(key)
            if value is not None:
                found.body["properties"][key] = value
        return Response(200, found.body)

    def _list_workspaces(self, request: Request, match: re.Match[str]) -> Response:
        group = match["group"].lower()
        return Response(200, {"value": [w.body for (g, _), w in self.workspaces.items()
                                        if g == group]})

    def _delete_workspace(self, request: Request, match: re.Match[str]) -> Response:
        key = (match["group"].lower(), match["name"].lower())
        found = self.workspaces.get(key)
        if found is None:
            return Response(204)
        purge = request.query.get("forceToPurge", "false").lower() == "true"
        if found.deletion is None:
            found.body["properties"]["provisioningState"] = "Deleting"
            found.deletion = self.operations.start(
                self.delete_polls, lambda: self._gone(key, purge))
        headers = self.operations.headers(found.deletion, self.arm.subscription_id, ML,
                                          async_operation=False, location=True)
        return Response(202, None, headers)

    def _gone(self, key: tuple[str, str], purge: bool) -> None:
        with self.arm.lock:
            found = self.workspaces.pop(key, None)
        if found is not None:
            (self.purged if purge else self.soft_deleted).append(found.name)

    def _group_deleted(self, group: str) -> None:
        for key in [k for k in self.workspaces if k[0] == group.lower()]:
            self._gone(key, purge=False)

    # --- the template deployment azure-ai-ml uses -------------------------------------------

    def _put_deployment(self, request: Request, match: re.Match[str]) -> Response:
        refused = self._check(match["group"])
        if refused is not None:
            return refused
        props = (request.json() or {}).get("properties") or {}
        template = props.get("template") or {}
        resources = template.get("resources") or []
        if not any(f"{ML}/workspaces".lower() in str(r.get("type", "")).lower()
                   for r in resources if isinstance(r, dict)):
            return error(400, "InvalidTemplate",
                         "Deployment template validation failed: this fake deploys only a "
                         "template that holds a Machine Learning workspace.")
        parameters = props.get("parameters") or {}
        name = _value(parameters, "workspaceName")
        location = _value(parameters, "location")
        if not name or not location:
            return error(400, "InvalidTemplate", "Deployment template validation failed: the "
                         "parameters 'workspaceName' and 'location' need values.")
        sub = self.arm.subscription_id
        group = match["group"]
        rid = (f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Resources/"
               f"deployments/{match['name']}")
        body = {"id": rid, "name": match["name"], "type": "Microsoft.Resources/deployments",
                "properties": {"provisioningState": "Accepted", "mode": props.get("mode"),
                               "parameters": parameters, "correlationId": str(uuid.uuid4()),
                               "timestamp": _now(), "duration": "PT0S"}}
        deployment = Deployment(match["name"], group, body, time.time())
        self.deployments[(group.lower(), match["name"].lower())] = deployment

        def resource_id(kind: str, provider: str, resource_type: str) -> str | None:
            option = _value(parameters, f"{kind}Option", "new")
            resource = _value(parameters, f"{kind}Name")
            if option == "none" or not resource:
                return None
            in_group = _value(parameters, f"{kind}ResourceGroupName") or group
            return (f"/subscriptions/{sub}/resourceGroups/{in_group}/providers/{provider}/"
                    f"{resource_type}/{resource}")

        def deployed() -> None:
            with self.arm.lock:
                made = self._workspace_body(group, name, location, {
                    "friendlyName": _value(parameters, "friendlyName"),
                    "description": _value(parameters, "description"),
                    "storageAccount": resource_id("storageAccount", "Microsoft.Storage",
                                                  "storageAccounts"),
                    "keyVault": resource_id("keyVault", "Microsoft.KeyVault", "vaults"),
                    "applicationInsights": resource_id("applicationInsights",
                                                       "Microsoft.Insights", "components"),
                }, _value(parameters, "tagValues", {}) or {}, _value(parameters, "kind", ""))
                self.workspaces[(group.lower(), name.lower())] = MlWorkspace(name, group, made)
                deployment.workspace_id = made["id"]
                seconds = max(time.time() - deployment.started, 0.001)
                body["properties"].update({"provisioningState": "Succeeded",
                                           "duration": f"PT{seconds:.3f}S",
                                           "outputResources": [{"id": made["id"]}]})

        op = self.operations.start(self.deploy_polls, deployed)
        headers = self.operations.headers(op, sub, "Microsoft.Resources", async_operation=True,
                                          location=False)
        return Response(201, body, headers)

    def _get_deployment(self, request: Request, match: re.Match[str]) -> Response:
        found = self.deployments.get((match["group"].lower(), match["name"].lower()))
        if found is None:
            return error(404, "DeploymentNotFound",
                         f"Deployment '{match['name']}' could not be found.")
        return Response(200, found.body)

    def _deployment_operations(self, request: Request, match: re.Match[str]) -> Response:
        found = self.deployments.get((match["group"].lower(), match["name"].lower()))
        if found is None:
            return error(404, "DeploymentNotFound",
                         f"Deployment '{match['name']}' could not be found.")
        state = found.body["properties"]["provisioningState"]
        if not found.workspace_id:
            return Response(200, {"value": []})
        name = found.workspace_id.rsplit("/", 1)[-1]
        return Response(200, {"value": [{
            "id": f"{found.body['id']}/operations/{uuid.uuid5(uuid.NAMESPACE_URL, name)}",
            "operationId": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            "properties": {
                "provisioningOperation": "Create", "provisioningState": state,
                "timestamp": _now(), "duration": found.body["properties"]["duration"],
                "statusCode": "OK",
                "targetResource": {"id": found.workspace_id, "resourceType": f"{ML}/workspaces",
                                   "resourceName": name},
            }}]})


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())

"""Azure Databricks workspaces (Microsoft.Databricks/workspaces), as azure-mgmt-databricks 3
calls them (api-version 2026-01-01).

What the fake keeps faithful (the REST reference and the SDK's own model docs):
- `PUT …/workspaces/{name}` with `sku.name` standard / premium / trial and
  `properties.computeMode` — required on create and never changed afterwards; `Hybrid` (the
  classic clusters the lab runs) needs `managedResourceGroupId`, `Serverless` refuses one;
- a create answers 201 `provisioningState: Accepted` with an `Azure-AsyncOperation` monitor
  (`lro`); when it succeeds the managed resource group exists (`managedBy` the workspace) and
  the workspace has its `workspaceId` and `workspaceUrl` (adb-{id}.{n}.azuredatabricks.net);
  a managed resource group that already exists is refused; the same PUT again answers 200,
  or while the creation runs 201 with the monitor of that creation (a client whose first
  answer was lost meets the operation under way, and ends with one workspace);
- `DELETE` answers 202 with `Location`; the workspace reads `Deleting` until the operation
  ends, then it and its managed resource group are gone; a missing one answers 204;
- the provider must be registered when `arm.require_registration` is on, the group must exist
  and not be deleting, and deleting the group removes its workspaces.
Error codes the documentation does not name are the fake's own (InvalidParameter).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from .arm import GROUP, FakeArm, Group
from .lro import Operation, Operations
from .server import Request, Response, error

WORKSPACE = GROUP + r"/providers/Microsoft\.Databricks/workspaces/(?P<name>[^/]+)"
SKUS = ("standard", "premium", "trial")
_MRG = re.compile(r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<group>[^/]+)", re.I)


@dataclass
class Workspace:
    name: str
    group: str
    body: dict[str, Any]
    creation: Operation | None = None
    deletion: Operation | None = None


@dataclass
class FakeDatabricksWorkspaces:
    arm: FakeArm
    operations: Operations
    create_polls: int = 2
    delete_polls: int = 2
    workspaces: dict[tuple[str, str], Workspace] = field(default_factory=dict)

    def __post_init__(self) -> None:
        g = self.arm.guard
        route = self.arm.fake.route
        route("PUT", WORKSPACE, g(self._put))
        route("GET", WORKSPACE, g(self._get))
        route("DELETE", WORKSPACE, g(self._delete))
        route("GET", GROUP + r"/providers/Microsoft\.Databricks/workspaces", g(self._list))
        self.arm.group_deleted_hooks.append(self._group_deleted)

    def _key(self, match: re.Match[str]) -> tuple[str, str]:
        return match["group"].lower(), match["name"].lower()

    def _missing(self, match: re.Match[str]) -> Response:
        return error(404, "ResourceNotFound",
                     f"The Resource 'Microsoft.Databricks/workspaces/{match['name']}' under "
                     f"resource group '{match['group']}' was not found. For more details please "
                     "go to https://aka.ms/ARMResourceNotFoundFix")

    def _invalid(self, message: str) -> Response:
        return error(400, "InvalidParameter", message)

    def _put(self, request: Request, match: re.Match[str]) -> Response:
        refused = (self.arm.check_group(match["group"])
                   or self.arm.check_registered("Microsoft.Databricks"))
        if refused is not None:
            return refused
        body = request.json() or {}
        props = body.get("properties") or {}
        if not body.get("location"):
            return error(400, "LocationRequired",
                         "The location property is required for this definition.")
        sku = str((body.get("sku") or {}).get("name", "")).lower()
        if sku not in SKUS:
            return self._invalid(f"The sku '{sku}' is not valid: one of {', '.join(SKUS)}.")
        mode = props.get("computeMode")
        if mode is None:
            return error(400, "InvalidRequestContent",
                         "The request content was invalid and could not be deserialized: "
                         "'Required property 'computeMode' not found in JSON.'")
        mrg = props.get("managedResourceGroupId")
        if mode == "Hybrid" and not mrg:
            return self._invalid("managedResourceGroupId is required in Hybrid compute mode.")
        if mode == "Serverless" and mrg:
            return self._invalid("managedResourceGroupId is not allowed in Serverless compute "
                                 "mode.")
        if mode not in ("Hybrid", "Serverless"):
            return self._invalid(f"The compute mode '{mode}' is not valid: Hybrid or Serverless.")
        existing = self.workspaces.get(self._key(match))
        if existing is not None:
            return self._update(existing, body, mode, mrg)
        parsed = _MRG.fullmatch(mrg) if mrg else None
        if mrg and parsed is None:
            return self._invalid(f"The managed resource group id '{mrg}' is not a resource "
                                 "group id.")
        if parsed is not None and self.arm.group(parsed["group"]) is not None:
            return self._invalid(f"The managed resource group '{parsed['group']}' already "
                                 "exists: give a new resource group name.")
        sub = self.arm.subscription_id
        rid = (f"/subscriptions/{sub}/resourceGroups/{match['group']}/providers/"
               f"Microsoft.Databricks/workspaces/{match['name']}")
        workspace_id = str(random.randrange(10**15, 10**16))
        stored = {
            "id": rid, "name": match["name"], "type": "Microsoft.Databricks/workspaces",
            "location": body["location"], "tags": body.get("tags") or {},
            "sku": {"name": sku},
            "properties": {**props, "provisioningState": "Accepted"},
        }
        workspace = Workspace(match["name"], match["group"], stored)
        self.workspaces[self._key(match)] = workspace

        def created() -> None:
            with self.arm.lock:
                if parsed is not None:
                    group = Group(parsed["group"], body["location"], {}, managed_by=rid)
                    self.arm.groups[parsed["group"].lower()] = group
                stored["properties"].update({
                    "provisioningState": "Succeeded", "workspaceId": workspace_id,
                    "workspaceUrl": f"adb-{workspace_id}.{random.randrange(1, 20)}."
                                    "azuredatabricks.net"})

        workspace.creation = self.operations.start(self.create_polls, created)
        return Response(201, stored, self._creation_headers(workspace))

    def _creation_headers(self, workspace: Workspace) -> dict[str, str]:
        assert workspace.creation is not None
        return self.operations.headers(workspace.creation, self.arm.subscription_id,
                                       "Microsoft.Databricks", async_operation=True,
                                       location=False)

    def _update(self, existing: Workspace, body: dict[str, Any], mode: str,
                mrg: str | None) -> Response:
        props = existing.body["properties"]
        if props.get("provisioningState") == "Deleting":
            return error(409, "Conflict", f"The workspace '{existing.name}' is being deleted.")
        if props.get("computeMode") != mode:
            return self._invalid("The compute mode of a workspace cannot be changed.")
        if (props.get("managedResourceGroupId") or "").lower() != (mrg or "").lower():
            return self._invalid("The managed resource group of a workspace cannot be changed.")
        if props.get("provisioningState") == "Accepted" and existing.creation is not None:
            # The same PUT again while the workspace is being made (a client that lost the
            # first answer): ARM answers the creation under way, not a second one.
            return Response(201, existing.body, self._creation_headers(existing))
        existing.body["tags"] = body.get("tags") or {}
        existing.body["sku"] = {"name": str(body["sku"]["name"]).lower()}
        return Response(200, existing.body)

    def _get(self, request: Request, match: re.Match[str]) -> Response:
        found = self.workspaces.get(self._key(match))
        return Response(200, found.body) if found else self._missing(match)

    def _list(self, request: Request, match: re.Match[str]) -> Response:
        group = match["group"].lower()
        return Response(200, {"value": [w.body for (g, _), w in self.workspaces.items()
                                        if g == group]})

    def _delete(self, request: Request, match: re.Match[str]) -> Response:
        found = self.workspaces.get(self._key(match))
        if found is None:
            return Response(204)
        if found.deletion is None:
            found.body["properties"]["provisioningState"] = "Deleting"
            found.deletion = self.operations.start(self.delete_polls,
                                                   lambda: self._gone(self._key(match)))
        headers = self.operations.headers(found.deletion, self.arm.subscription_id,
                                          "Microsoft.Databricks", async_operation=False,
                                          location=True)
        return Response(202, None, headers)

    def _gone(self, key: tuple[str, str]) -> None:
        with self.arm.lock:
            workspace = self.workspaces.pop(key, None)
            if workspace is None:
                return
            parsed = _MRG.fullmatch(workspace.body["properties"].get("managedResourceGroupId")
                                    or "")
            if parsed is not None:
                self.arm.groups.pop(parsed["group"].lower(), None)

    def _group_deleted(self, group: str) -> None:
        for key in [k for k in self.workspaces if k[0] == group.lower()]:
            self._gone(key)

"""One loopback Azure with every fake service wired together, and one service principal."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .arm import FakeArm
from .authorization import STORAGE_DATA_ROLES, FakeAuthorization
from .databricks import FakeDatabricksWorkspaces
from .datalake import FakeDataLake, dfs_error
from .graph import FakeGraph
from .identity import FakeEntra
from .keyvault import FakeKeyVault
from .lro import Operations
from .ml import FakeMachineLearning
from .server import FakeAzure, Request, Response
from .storage import FakeStorage

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUBSCRIPTION_ID = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
CLIENT_ID = "3f9c1e2a-5b7d-4c8e-9a1f-0d2e3b4c5a6f"
CLIENT_SECRET = "fake-client-secret-Qx8~"


@dataclass
class FakeCloud:
    server: FakeAzure
    entra: FakeEntra
    operations: Operations
    arm: FakeArm
    keyvault: FakeKeyVault
    storage: FakeStorage
    graph: FakeGraph
    authorization: FakeAuthorization
    databricks: FakeDatabricksWorkspaces
    ml: FakeMachineLearning

    @classmethod
    def start(cls, tmp: Path) -> FakeCloud:
        server = FakeAzure(tmp)
        entra = FakeEntra(server, TENANT_ID)
        entra.add_client(CLIENT_ID, CLIENT_SECRET)
        operations = Operations(server)
        arm = FakeArm(server, entra, SUBSCRIPTION_ID, operations)
        keyvault = FakeKeyVault(server, arm, tmp)
        storage = FakeStorage(server, arm, FakeDataLake.start(tmp, server.ca, entra))
        graph = FakeGraph(server, entra)
        authorization = FakeAuthorization(arm, lambda oid: _principal(graph, entra, oid))
        storage.datalake.authorize = lambda request, account: _storage_rbac(
            entra, graph, authorization, storage, request, account)
        databricks = FakeDatabricksWorkspaces(arm, operations)
        ml = FakeMachineLearning(arm, operations)
        cloud = cls(server, entra, operations, arm, keyvault, storage, graph, authorization,
                    databricks, ml)
        server.start()
        return cloud

    def stop(self) -> None:
        self.keyvault.stop()
        self.storage.datalake.server.stop()
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url


def _principal(graph: FakeGraph, entra: FakeEntra, object_id: str) -> tuple[str, float] | None:
    """The directory's answer for a role assignment: a Graph service principal or a user."""
    sp = graph.principal(object_id)
    if sp is not None:
        return "ServicePrincipal", sp.created
    if object_id in entra.users.values():
        return "User", 0.0
    return None


def _storage_rbac(entra: FakeEntra, graph: FakeGraph, authorization: FakeAuthorization,
                  storage: FakeStorage, request: Request, account: str) -> Response | None:
    """A service principal made through Graph reaches the data lake only through a storage
    data role that has propagated; the lab's own operator (the test's client) is an owner."""
    token = request.header("authorization").removeprefix("Bearer ")
    claims = entra.claims_of(token) or {}
    oid = str(claims.get("oid", ""))
    if graph.principal(oid) is None:
        return None
    found = storage.accounts.get(account)
    group = found.group if found else "?"
    scope = (f"/subscriptions/{storage.arm.subscription_id}/resourceGroups/{group}/providers/"
             f"Microsoft.Storage/storageAccounts/{account}")
    if authorization.effective(oid, STORAGE_DATA_ROLES, scope):
        return None
    return dfs_error(403, "AuthorizationPermissionMismatch",
                     "This request is not authorized to perform this operation using this "
                     "permission.")

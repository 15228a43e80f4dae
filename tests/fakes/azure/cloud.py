"""One loopback Azure with every fake service wired together, and one service principal."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .arm import FakeArm
from .datalake import FakeDataLake
from .identity import FakeEntra
from .keyvault import FakeKeyVault
from .lro import Operations
from .server import FakeAzure
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

    @classmethod
    def start(cls, tmp: Path) -> FakeCloud:
        server = FakeAzure(tmp)
        entra = FakeEntra(server, TENANT_ID)
        entra.add_client(CLIENT_ID, CLIENT_SECRET)
        operations = Operations(server)
        arm = FakeArm(server, entra, SUBSCRIPTION_ID, operations)
        keyvault = FakeKeyVault(server, arm, tmp)
        storage = FakeStorage(server, arm, FakeDataLake.start(tmp, server.ca, entra))
        cloud = cls(server, entra, operations, arm, keyvault, storage)
        server.start()
        return cloud

    def stop(self) -> None:
        self.keyvault.stop()
        self.storage.datalake.server.stop()
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

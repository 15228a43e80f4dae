"""Machine Learning workspaces over azure-ai-ml's `MLClient.workspaces` (not the retired
azureml-sdk v1).

`begin_create` deploys an ARM template (the workspace with its storage account, key vault and
Application Insights), then reads the workspace; a second create of an existing workspace
updates it. Deleting purges the workspace (`permanently_delete`), so its name is free again at
once rather than held for 14 days, and leaves its dependent resources to their resource group.

Two of azure-ai-ml's habits reach beyond the client it is given. Its template deployment
builds a Resource Manager client of its own, which finds the cloud through the process's
AZUREML_CURRENT_CLOUD variable and trusts only what `requests` trusts (REQUESTS_CA_BUNDLE),
not the transport given to MLClient. So where the target has a cloud of its own
(`azure-arm-endpoint`) or a CA bundle (`azure-ca-bundle`), those two variables are set for
the duration of each MLClient call, under one lock, and put back afterwards. On Azure's public
cloud with the default trust store nothing is set.

The model registry (registering, listing, downloading models) is not built on this target yet:
those calls answer so in one line.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from labtui.targets import operations
from labtui.targets.azure import pollers
from labtui.targets.azure.mgmt import SDK_RETRIES, loopback, translated
from labtui.targets.azure.options import PUBLIC_ARM
from labtui.targets.errors import NotFound, TargetError
from labtui.targets.ports.azure import Models
from labtui.targets.resources import ML_WORKSPACES, MlWorkspace, ModelVersion, ResourceRef

if TYPE_CHECKING:
    from collections.abc import Mapping

    from azure.core.credentials import TokenCredential

    from labtui.targets.azure.endpoints import Endpoints

CREATE = "create-ml-workspace"
_ENVIRONMENT = threading.Lock()
"""Held while azure-ai-ml runs with the process variables it reads set for this target."""


class AzureMlWorkspaces(Models):
    """The subscription's Machine Learning workspaces."""

    def __init__(self, credential: TokenCredential, subscription_id: str, endpoints: Endpoints,
                 ensure_providers: Callable[[], None]) -> None:
        self._credential = credential
        self._subscription = subscription_id
        self._endpoints = endpoints
        self._ensure_providers = ensure_providers
        self._cloud = (None if endpoints.arm == PUBLIC_ARM
                       else f"LabtuiCloud{abs(hash(endpoints.arm)) % 10**8}")
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @contextmanager
    def _sdk_environment(self) -> Iterator[None]:
        wanted: dict[str, str] = {}
        if self._cloud is not None:
            wanted["AZUREML_CURRENT_CLOUD"] = self._cloud
        if self._endpoints.ca_bundle is not None:
            wanted["REQUESTS_CA_BUNDLE"] = str(self._endpoints.ca_bundle)
        if not wanted:
            yield
            return
        with _ENVIRONMENT:
            before = {name: os.environ.get(name) for name in wanted}
            os.environ.update(wanted)
            try:
                yield
            finally:
                for name, value in before.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value

    def _client(self, resource_group: str) -> Any:
        key = resource_group.lower()
        with self._lock:
            client = self._clients.get(key)
        if client is not None:
            return client
        from azure.ai.ml import MLClient

        kwargs: dict[str, Any] = {
            "enable_telemetry": False, "show_progress": False,
            "transport": self._endpoints.transport(), "retry_total": SDK_RETRIES,
            "retry_backoff_factor": 0.05 if loopback(self._endpoints) else 0.8,
        }
        if loopback(self._endpoints):
            kwargs["polling_interval"] = 0
        if self._cloud is not None:
            arm = f"{self._endpoints.arm}/"
            kwargs["cloud"] = self._cloud
            kwargs["cloud_metadata"] = {
                "azure_portal": "https://portal.azure.com/",
                "resource_manager": arm,
                "active_directory": f"{self._endpoints.authority}/",
                "aml_resource_id": "https://ml.azure.com/",
                "storage_endpoint": "core.windows.net",
                "registry_discovery_endpoint": arm,
            }
        with self._sdk_environment():
            try:
                client = MLClient(self._credential, self._subscription, resource_group, **kwargs)
            except AttributeError as exc:
                # azure-ai-ml keeps custom clouds in a table of its process and refuses to
                # register one twice: an earlier client registered this one.
                if "Cannot overwrite existing cloud" not in str(exc):
                    raise
                kwargs.pop("cloud_metadata")
                client = MLClient(self._credential, self._subscription, resource_group, **kwargs)
        with self._lock:
            return self._clients.setdefault(key, client)

    def _workspace(self, found: Any, ref: ResourceRef) -> MlWorkspace:
        made = ResourceRef(ref.subscription, ref.resource_group, ML_WORKSPACES, ref.name)
        return MlWorkspace(made, str(found.location))

    def _find(self, ref: ResourceRef) -> Any | None:
        if ref.subscription.lower() != self._subscription.lower():
            return None
        client = self._client(ref.resource_group)
        try:
            with translated(f"ML workspace {ref.name} does not exist in {ref.resource_group}"), \
                    self._sdk_environment():
                found = client.workspaces.get(ref.name)
        except NotFound:
            return None
        # A workspace of another group with the name is not this one.
        group = str(getattr(found, "resource_group", "") or ref.resource_group)
        return found if group.lower() == ref.resource_group.lower() else None

    def create_workspace(self, ref: ResourceRef, location: str) -> MlWorkspace:
        from azure.ai.ml.entities import Workspace

        if ref.subscription.lower() != self._subscription.lower():
            raise TargetError(f"ML workspace {ref.name}: subscription {ref.subscription} is "
                              f"not the target's ({self._subscription})")
        self._ensure_providers()
        existing = self._find(ref)
        if existing is not None:
            return self._workspace(existing, ref)
        what = f"creating ML workspace {ref.name} in {ref.resource_group}"
        client = self._client(ref.resource_group)
        try:
            with translated(what), self._sdk_environment():
                poller = client.workspaces.begin_create(Workspace(
                    name=ref.name, location=location,
                    description="the lab's model registry"))
            made = self._wait_journaled(poller, ref, what)
        except NotFound:
            raise NotFound(f"{what}: resource group {ref.resource_group} does not exist"
                           ) from None
        except TargetError as exc:
            if "ResourceGroupNotFound" in str(exc):
                raise NotFound(f"{what}: resource group {ref.resource_group} does not exist"
                               ) from None
            raise
        return self._workspace(made, ref)

    def _wait_journaled(self, poller: Any, ref: ResourceRef, what: str) -> Any:
        """The workspace `begin_create` makes, its template deployment's continuation token
        journaled meanwhile (azure-ai-ml's poller wraps the deployment's ARM poller)."""
        deployment = getattr(poller.polling_method(), "poller", None)
        if deployment is None or not hasattr(deployment, "continuation_token"):
            raise TargetError(f"{what}: this azure-ai-ml does not expose the deployment it "
                              "started, so a crash could not resume it; labtui needs "
                              "azure-ai-ml >= 1.20")
        with self._sdk_environment():
            return pollers.wait(poller, ref.id, CREATE, what,
                                token=deployment.continuation_token())

    def resume(self, operation: operations.StartedOperation) -> None:
        """Wait for a workspace's template deployment an earlier process started (from its
        continuation token), until it has ended either way."""
        try:
            pollers.resume(self._credential, self._endpoints, operation.token,
                           f"creating {operation.resource}")
        except NotFound:
            return  # gone (its group deleted) meanwhile
        except TargetError as exc:
            if "DeploymentFailed" in str(exc) or "OperationNotFound" in str(exc):
                return  # over, and failed: the workspace's own entry removes what is left
            raise

    def get_workspace(self, ref: ResourceRef) -> MlWorkspace:
        found = self._find(ref)
        if found is None:
            raise NotFound(f"ML workspace {ref.name} does not exist in resource group "
                           f"{ref.resource_group}")
        return self._workspace(found, ref)

    def delete_workspace(self, ref: ResourceRef) -> bool:
        if self._find(ref) is None:
            return False
        client = self._client(ref.resource_group)
        try:
            with translated(f"deleting ML workspace {ref.name}"), self._sdk_environment():
                client.workspaces.begin_delete(ref.name, delete_dependent_resources=False,
                                               permanently_delete=True).result()
        except NotFound:
            return False
        return True

    # -- the registry: not on this target yet ----------------------------------------------

    def _not_yet(self) -> NoReturn:
        raise TargetError("the azure target's model registry is not implemented yet")

    def register_model(self, workspace: str, name: str, source: Path, tags: Mapping[str, str],
                       *, description: str = "", run_id: str | None = None) -> ModelVersion:
        self._not_yet()

    def list_models(self, workspace: str, name: str | None = None,
                    tags: Mapping[str, str] | None = None) -> list[ModelVersion]:
        self._not_yet()

    def download_model(self, workspace: str, name: str, destination: Path, *,
                       version: int | None = None,
                       tags: Mapping[str, str] | None = None) -> Path:
        self._not_yet()

    def delete_model(self, workspace: str, name: str) -> bool:
        self._not_yet()

    def delete_experiment(self, workspace: str, name: str) -> bool:
        self._not_yet()

    def close(self) -> None:
        # MLClient holds no connection of its own to release (its transports close with it).
        with self._lock:
            self._clients = {}

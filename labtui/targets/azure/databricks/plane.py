"""What every part of the Azure Databricks port shares: the Resource Manager client of the
workspaces, a databricks-sdk `WorkspaceClient` per data-plane host, the Entra sign-in of
its calls and the translation of both SDKs' errors.

A data-plane call goes to the host it is given (`DatabricksHost`: the workspace's own
https://adb-<workspace_id>.<n>.azuredatabricks.net), signed with the target's Microsoft Entra
token for the AzureDatabricks application; the workspace id travels as the org id
(`X-Databricks-Org-Id`), and the workspace's resource id
(`X-Databricks-Azure-Workspace-Resource-Id`, which lets Azure Databricks add a service
principal that is no workspace user yet) when this port has met the workspace on Resource
Manager already. No call asks Resource Manager where a workspace is.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from labtui.targets.azure.endpoints import Endpoints
from labtui.targets.azure.mgmt import build
from labtui.targets.azure.sdk_errors import translate
from labtui.targets.errors import Conflict, NotFound, TargetError, Transient
from labtui.targets.resources import DatabricksHost, DatabricksWorkspace

AZURE_DATABRICKS_APP = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"
"""The AzureDatabricks first-party application: the audience of tokens for every workspace."""
DATABRICKS_SCOPE = f"{AZURE_DATABRICKS_APP}/.default"
RESOURCE_HEADER = "X-Databricks-Azure-Workspace-Resource-Id"
ORG_HEADER = "X-Databricks-Org-Id"
_ADB_HOST = re.compile(r"https://adb-(?P<id>\d+)\.\d+\.azuredatabricks\.net", re.I)


class AzureDatabricksPlane:
    """The SDK clients of the Databricks port, and the state its parts share."""

    def __init__(self, credential: Any, endpoints: Endpoints, subscription_id: str, *,
                 data_plane: str | None = None) -> None:
        self.credential = credential
        self.endpoints = endpoints
        self.subscription_id = subscription_id
        self.data_plane = data_plane.rstrip("/") if data_plane else None
        """Where every workspace's REST API is reached instead of its own host (a proxy, or
        loopback fakes); None: the host's url."""
        self.backoff_factor = 0.8
        """Resource Manager calls: azure-core's back-off factor between its retries of a
        429 or 503 that names no Retry-After (0 s, then twice the factor, doubling)."""
        self.poll_seconds = 10.0
        """How often a workspace creation is polled when Resource Manager names no
        Retry-After, and a notebook run while it runs."""
        self.retry_seconds = 300
        """How long databricks-sdk keeps retrying a throttled or unavailable call."""
        self._mgmt: dict[str, Any] = {}
        self._known: dict[str, DatabricksWorkspace] = {}
        """Workspaces met on Resource Manager, by workspace id (for the resource id header)."""
        self._clients: dict[DatabricksHost, Any] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the management clients this port built (databricks-sdk's workspace clients
        hold a requests session each, released with them)."""
        with self._lock:
            clients, self._mgmt, self._clients = list(self._mgmt.values()), {}, {}
        for client in clients:
            client.close()

    def _workspaces(self, subscription: str) -> Any:
        """The Resource Manager operations on workspaces of `subscription`."""
        from azure.mgmt.databricks import AzureDatabricksManagementClient

        with self._lock:
            key = subscription.lower()
            if key not in self._mgmt:
                self._mgmt[key] = build(AzureDatabricksManagementClient, self.credential,
                                        subscription, self.endpoints,
                                        retry_backoff_factor=self.backoff_factor)
            return self._mgmt[key].workspaces

    def _forget(self, workspace: DatabricksWorkspace) -> None:
        with self._lock:
            self._known.pop(workspace.workspace_id, None)
            self._clients.pop(workspace.host, None)

    def _client(self, host: DatabricksHost) -> Any:
        """The databricks-sdk client of `host`'s workspace (made once per host).

        Raises NotFound: the url is another workspace's host than its id says.
        """
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config

        check_host(host)
        with self._lock:
            if host not in self._clients:
                known = self._known.get(host.workspace_id)
                self._clients[host] = WorkspaceClient(config=Config(
                    host=self.data_plane or host.url,
                    credentials_strategy=_entra(self.credential, host,
                                                known.id if known else None),
                    retry_timeout_seconds=self.retry_seconds))
            return self._clients[host]

    @contextmanager
    def _sdk(self, what: str) -> Iterator[None]:
        try:
            yield
        except TargetError:
            raise
        except Exception as exc:
            raise _translate(exc, what) from None


def check_host(host: DatabricksHost) -> None:
    """Refuse a host whose Azure Databricks url names another workspace than its id.

    Raises NotFound.
    """
    shaped = _ADB_HOST.fullmatch(host.url)
    if shaped is not None and shaped["id"] != host.workspace_id:
        raise NotFound(f"{host.url} is the host of Databricks workspace {shaped['id']}, not of "
                       f"workspace {host.workspace_id}")
    if not host.workspace_id.isdigit():
        raise NotFound(f"{host.workspace_id!r} is no Databricks workspace id (digits)")


def text(value: Any) -> str:
    """An SDK enum's wire value (str() of one is its Python name)."""
    return str(getattr(value, "value", value) or "")


def _entra(credential: Any, host: DatabricksHost, resource_id: str | None) -> Any:
    """databricks-sdk's way to sign each call with the target's Entra token."""
    from databricks.sdk.credentials_provider import CredentialsStrategy

    class EntraToken(CredentialsStrategy):
        def auth_type(self) -> str:
            return "azure-entra-token"

        def __call__(self, cfg: Any) -> Any:
            def headers() -> dict[str, str]:
                token = credential.get_token(DATABRICKS_SCOPE).token
                sent = {"Authorization": f"Bearer {token}", ORG_HEADER: host.workspace_id}
                if resource_id:
                    sent[RESOURCE_HEADER] = resource_id
                return sent
            return headers

    return EntraToken()


def _translate(exc: BaseException, what: str) -> TargetError:
    from databricks.sdk.errors import (
        InvalidParameterValue,
        ResourceAlreadyExists,
        ResourceDoesNotExist,
    )
    from databricks.sdk.errors import NotFound as SdkNotFound
    from databricks.sdk.errors.base import DatabricksError

    if isinstance(exc, TimeoutError):
        # databricks-sdk's retries of 429, 503 and dropped connections ran out of time.
        return Transient(f"{what}: Databricks kept refusing or did not answer, still after "
                         f"the SDK's retries ({' '.join(str(exc).split())[:120]})")
    if not isinstance(exc, DatabricksError):
        return translate(exc, what)
    message = " ".join(str(exc).split())[:300]
    code = str(getattr(exc, "error_code", "") or "")
    if isinstance(exc, (SdkNotFound, ResourceDoesNotExist)) or (
            isinstance(exc, InvalidParameterValue) and "does not exist" in message):
        return NotFound(f"{what} was not found: {message}")
    if isinstance(exc, ResourceAlreadyExists):
        return Conflict(f"{what}: {message}")
    if code in ("REQUEST_LIMIT_EXCEEDED", "TEMPORARILY_UNAVAILABLE") or \
            code.startswith("TOO_MANY") or "timed out" in message:
        return Transient(f"{what}: Databricks is busy, still after the SDK's retries: "
                         f"{message}")
    return TargetError(f"{what}: {message}" + (f" ({code})" if code and code not in message
                                                else ""))

"""The data lake port over azure-mgmt-storage (the account) and azure-storage-file-datalake
(file systems, files and ACLs).

The account is created as the lab wants it: StorageV2, hierarchical namespace on, Cool tier,
after `check_name_availability` (account names are global: one taken elsewhere is a
`Conflict` saying so). ACLs are changed with `update_access_control_recursive`, never
`set_access_control` (which replaces the whole ACL), and the mask is widened along with a
named entry, so the entry grants what it says.

The data plane is addressed by the account's DFS endpoint (`StorageAccount.dfs_endpoint`), as
`DataLakeServiceClient(account_url=…)` is (its host compared case-insensitively, with or
without the trailing slash).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labtui.targets.azure import pollers
from labtui.targets.azure.endpoints import Endpoints
from labtui.targets.azure.mgmt import build
from labtui.targets.azure.sdk_errors import Propagation, error_code, translate
from labtui.targets.errors import Conflict, NotFound, TargetError
from labtui.targets.operations import StartedOperation
from labtui.targets.ports.azure import DataLake
from labtui.targets.resources import AclEntry, DataLakeFile, ResourceRef, StorageAccount

Progress = Callable[[int, int], None]
SKU = "Standard_LRS"
CREATE = "create-storage-account"


def parse_acl(text: str) -> list[AclEntry]:
    """`[default:]kind:principal:perms,…` as the service writes it."""
    entries = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        parts = item.split(":")
        scope = "access"
        if parts[0] == "default":
            scope, parts = "default", parts[1:]
        if len(parts) != 3 or parts[0] not in ("user", "group", "other", "mask"):
            raise TargetError(f"the data lake answered an ACL entry labtui cannot read: {item}")
        entries.append(AclEntry(scope, parts[0], parts[1], parts[2]))  # type: ignore[arg-type]
    return entries


def acl_with_mask(entries: Sequence[AclEntry]) -> str:
    """The ACL text for an update: the entries, plus `mask::rwx` (per scope) where a named
    entry is given without a mask, since the mask caps what every named entry grants."""
    given = list(entries)
    for scope in ("access", "default"):
        named = any(e.scope == scope and e.principal and e.kind in ("user", "group")
                    for e in given)
        masked = any(e.scope == scope and e.kind == "mask" for e in given)
        if named and not masked:
            given.append(AclEntry("access" if scope == "access" else "default", "mask", "",
                                  "rwx"))
    return ",".join(str(e) for e in given)


class AzureDataLake(DataLake):
    """Storage accounts and their ADLS Gen2 data plane in one subscription."""

    def __init__(self, credential: Any, endpoints: Endpoints, subscription_id: str,
                 propagation: Propagation | None = None) -> None:
        self.credential = credential
        self.endpoints = endpoints
        self.subscription_id = subscription_id
        self.propagation = propagation or Propagation()
        self.retry_seconds = 4.0
        """The storage SDK's pause between its three retries of a failed call, in seconds."""
        self.backoff_factor = 0.8
        """Resource Manager calls: azure-core's back-off factor between its retries of a
        429 or 503 that names no Retry-After (0 s, then twice the factor, doubling)."""
        self.poll_seconds = 5.0
        """How often a creation is polled when Resource Manager names no Retry-After."""
        self._dfs: dict[str, str] = {}
        self._mgmt: dict[str, Any] = {}
        self._lakes: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- the SDK clients -------------------------------------------------------------------

    def close(self) -> None:
        """Close the management and data-plane clients this port built."""
        with self._lock:
            clients = [*self._mgmt.values(), *self._lakes.values()]
            self._mgmt, self._lakes = {}, {}
        for client in clients:
            client.close()


    def _accounts(self, subscription: str) -> Any:
        from azure.mgmt.storage import StorageManagementClient

        with self._lock:
            key = subscription.lower()
            if key not in self._mgmt:
                self._mgmt[key] = build(StorageManagementClient, self.credential,
                                        subscription, self.endpoints,
                                        retry_backoff_factor=self.backoff_factor)
            return self._mgmt[key].storage_accounts

    def _lake(self, account: str) -> Any:
        """The data plane client of the account whose DFS endpoint is `account`."""
        from azure.storage.filedatalake import DataLakeServiceClient, LinearRetry

        with self._lock:
            url = account.strip()
            if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
                raise TargetError(f"{account} is not a data lake's DFS endpoint: the data lake "
                                  "is addressed by https://NAME.dfs.core.windows.net/ "
                                  "(StorageAccount.dfs_endpoint)")
            key = url.rstrip("/").lower()
            if key not in self._lakes:
                # Typed as int, used as float seconds (time.sleep).
                pause: dict[str, Any] = {"backoff": self.retry_seconds, "retry_total": 3,
                                         "random_jitter_range": self.retry_seconds / 4}
                self._lakes[key] = DataLakeServiceClient(
                    url, credential=self.credential, transport=self.endpoints.transport(),
                    retry_policy=LinearRetry(**pause))
            return self._lakes[key]

    def _remember(self, account: Any) -> StorageAccount:
        found = _describe(account)
        with self._lock:
            self._dfs[found.name.lower()] = found.dfs_endpoint
        return found

    def dfs_endpoint(self, account: str) -> str:
        """The account's DFS endpoint: as Resource Manager reported it when this target read
        the account, else Azure's public form (https://NAME.dfs.core.windows.net/)."""
        with self._lock:
            return self._dfs.get(account.lower(), f"https://{account.lower()}.dfs.core.windows.net/")

    @contextmanager
    def _sdk(self, what: str) -> Iterator[None]:
        try:
            yield
        except TargetError:
            raise
        except Exception as exc:
            if _no_such_host(exc):
                # An account's endpoint is a DNS name of its own: no name, no account.
                raise NotFound(f"{what} was not found: no data lake answers at its "
                               "endpoint (the host name does not resolve)") from None
            raise translate(exc, what, propagation=self.propagation) from None

    # -- accounts (Resource Manager) -------------------------------------------------------

    def create_account(self, ref: ResourceRef, location: str, *, kind: str = "StorageV2",
                       access_tier: str = "Cool", hierarchical_namespace: bool = True
                       ) -> StorageAccount:
        what = f"storage account {ref.name}"
        try:
            existing = self.get_account(ref)
        except NotFound:
            existing = None
        if existing is not None:
            wanted = {"location": location, "kind": kind, "access tier": access_tier,
                      "hierarchical namespace": hierarchical_namespace}
            has = {"location": existing.location, "kind": existing.kind,
                   "access tier": existing.access_tier,
                   "hierarchical namespace": existing.hierarchical_namespace}
            differ = [f"{key} {has[key]} (not {wanted[key]})" for key in wanted
                      if str(has[key]).replace(" ", "").lower()
                      != str(wanted[key]).replace(" ", "").lower()]
            if differ:
                raise Conflict(f"{what} exists in {ref.resource_group} with "
                               + ", ".join(differ))
            return existing
        accounts = self._accounts(ref.subscription)
        with self._sdk(what):
            check = accounts.check_name_availability(
                {"name": ref.name, "type": "Microsoft.Storage/storageAccounts"})
        if not check.name_available:
            if check.reason == "AlreadyExists":
                raise Conflict(f"{what}: the name is taken by an account elsewhere in Azure "
                               "(storage account names are global); choose another name")
            raise TargetError(f"{what}: {check.message or check.reason}")
        body = {"location": location, "kind": kind, "sku": {"name": SKU},
                "properties": {"isHnsEnabled": hierarchical_namespace,
                               "accessTier": access_tier, "minimumTlsVersion": "TLS1_2",
                               "supportsHttpsTrafficOnly": True}}
        with self._sdk(what):
            poller = accounts.begin_create(ref.resource_group, ref.name, body,
                                           polling_interval=self.poll_seconds)
        with self._sdk(what):
            made = pollers.wait(poller, ref.id, CREATE, f"creating {what}")
        return self._remember(made)

    def resume(self, operation: StartedOperation) -> None:
        """Wait for an account's creation an earlier process started (its continuation
        token), until it has ended either way."""
        subscription = operation.resource.strip("/").split("/")[1]
        accounts = self._accounts(subscription)
        try:
            with self._sdk(f"creating {operation.resource}"):
                accounts.begin_create(None, None, None, continuation_token=operation.token,
                                      polling_interval=self.poll_seconds).result()
        except NotFound:
            return  # gone (its group deleted) meanwhile

    def get_account(self, ref: ResourceRef) -> StorageAccount:
        with self._sdk(f"storage account {ref.name} in resource group {ref.resource_group}"):
            found = self._accounts(ref.subscription).get_properties(ref.resource_group,
                                                                   ref.name)
        return self._remember(found)

    def delete_account(self, ref: ResourceRef) -> bool:
        with self._sdk(f"storage account {ref.name}"):
            try:
                status = self._accounts(ref.subscription).delete(
                    ref.resource_group, ref.name,
                    cls=lambda response, body, headers: response.http_response.status_code)
            except Exception as exc:
                if getattr(exc, "status_code", None) == 404:
                    return False
                raise
        return bool(status == 200)

    # -- file systems ----------------------------------------------------------------------

    def create_file_system(self, account: str, name: str) -> None:
        from azure.core.exceptions import ResourceExistsError

        with self._sdk(f"file system {name} of storage account {account}"):
            try:
                self._lake(account).create_file_system(name)
            except ResourceExistsError:
                return

    def file_systems(self, account: str) -> list[str]:
        with self._sdk(f"storage account {account}"):
            return sorted(fs.name for fs in self._lake(account).list_file_systems())

    def delete_file_system(self, account: str, name: str) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        with self._sdk(f"file system {name} of storage account {account}"):
            try:
                self._lake(account).delete_file_system(name)
            except ResourceNotFoundError:
                return False
        return True

    # -- files -----------------------------------------------------------------------------

    def _file(self, account: str, file_system: str, path: str) -> Any:
        return self._lake(account).get_file_system_client(file_system).get_file_client(
            path.strip("/"))

    def upload(self, account: str, file_system: str, path: str, source: Path | bytes, *,
               progress: Progress | None = None) -> DataLakeFile:
        """Write the file (as the port says); `progress(done, total)` after each chunk."""
        what = f"{file_system}/{path} in storage account {account}"
        hook = None if progress is None else (lambda done, total: progress(done, total or 0))
        with self._sdk(what):
            client = self._file(account, file_system, path)
            if isinstance(source, bytes):
                client.upload_data(source, overwrite=True, progress_hook=hook)
                size = len(source)
            else:
                size = source.stat().st_size
                with source.open("rb") as stream:
                    client.upload_data(stream, length=size, overwrite=True,
                                       progress_hook=hook)
        return DataLakeFile(path.strip("/"), size)

    def read(self, account: str, file_system: str, path: str) -> bytes:
        with self._sdk(f"{file_system}/{path} in storage account {account}"):
            data: bytes = self._file(account, file_system, path).download_file().readall()
        return data

    def list_files(self, account: str, file_system: str, prefix: str = "") -> list[DataLakeFile]:
        from azure.core.exceptions import ResourceNotFoundError

        folder = prefix.strip("/") or None
        with self._sdk(f"file system {file_system} of storage account {account}"):
            client = self._lake(account).get_file_system_client(file_system)
            try:
                paths = list(client.get_paths(path=folder, recursive=True))
            except ResourceNotFoundError as exc:
                if folder is not None and error_code(exc) == "PathNotFound":
                    return []
                raise
        return sorted((DataLakeFile(p.name, int(p.content_length or 0)) for p in paths
                       if not p.is_directory), key=lambda f: f.path)

    def delete_file(self, account: str, file_system: str, path: str) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        with self._sdk(f"{file_system}/{path} in storage account {account}"):
            try:
                self._file(account, file_system, path).delete_file()
            except ResourceNotFoundError:
                return False
        return True

    # -- ACLs ------------------------------------------------------------------------------

    def _path(self, account: str, file_system: str, path: str) -> Any:
        client = self._lake(account).get_file_system_client(file_system)
        if not path.strip("/"):
            return client._get_root_directory_client()
        return client.get_directory_client(path.strip("/"))

    def get_acl(self, account: str, file_system: str, path: str = "") -> list[AclEntry]:
        with self._sdk(f"{file_system}/{path} in storage account {account}"):
            acl = self._path(account, file_system, path).get_access_control()["acl"]
        return parse_acl(str(acl or ""))

    def update_acl(self, account: str, file_system: str, path: str,
                   entries: Sequence[AclEntry]) -> None:
        what = f"the ACL of {file_system}/{path} in storage account {account}"
        with self._sdk(what):
            result = self._path(account, file_system, path).update_access_control_recursive(
                acl=acl_with_mask(entries))
        failed = getattr(result.counters, "failure_count", 0)
        if failed:
            raise TargetError(f"{what}: {failed} paths could not be updated")

    def remove_acl(self, account: str, file_system: str, path: str, principal: str) -> bool:
        present = [e for e in self.get_acl(account, file_system, path)
                   if e.principal == principal]
        if not present:
            return False
        names = sorted({f"{'default:' if e.scope == 'default' else ''}{e.kind}:{principal}"
                        for e in present})
        with self._sdk(f"the ACL of {file_system}/{path} in storage account {account}"):
            self._path(account, file_system, path).remove_access_control_recursive(
                acl=",".join(names))
        return True


def _describe(account: Any) -> StorageAccount:
    endpoints = account.primary_endpoints
    return StorageAccount(
        ref=ResourceRef.parse(str(account.id)),
        location=str(account.location),
        kind=_text(account.kind),
        access_tier=_text(account.access_tier),
        hierarchical_namespace=bool(account.is_hns_enabled),
        dfs_endpoint=str(getattr(endpoints, "dfs", "") or ""),
    )


def _no_such_host(exc: BaseException) -> bool:
    from azure.core.exceptions import ServiceRequestError

    text = str(exc)
    return isinstance(exc, ServiceRequestError) and any(
        marker in text for marker in ("Name or service not known", "NameResolutionError",
                                      "nodename nor servname", "getaddrinfo failed",
                                      "No address associated with hostname"))


def _text(value: Any) -> str:
    """An SDK enum's wire value (str() of one is its Python name)."""
    return str(getattr(value, "value", value) or "")

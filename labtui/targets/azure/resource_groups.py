"""Resource groups over azure-mgmt-resource's `ResourceManagementClient`, and the resource
providers the lab needs, registered on first use.

A fresh subscription has Microsoft.Storage, Microsoft.KeyVault, Microsoft.Databricks and
Microsoft.MachineLearningServices unregistered, and ARM refuses their resources until they
are. The first group made registers them and waits (a bounded time) until ARM reads them
Registered, so the later steps do not meet MissingSubscriptionRegistration.

Deleting a group is a long-running operation: its continuation token is announced
(`labtui.targets.operations`) before the wait, so a crash while ARM deletes leaves a journal
entry that `resume` finishes.
"""

from __future__ import annotations

import threading
import time
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from labtui.targets import operations
from labtui.targets.azure import pollers
from labtui.targets.azure.mgmt import build, error_code, loopback, translated
from labtui.targets.errors import Conflict, NotFound, TargetError
from labtui.targets.ports.azure import ResourceGroups
from labtui.targets.resources import ResourceGroup

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from labtui.targets.azure.endpoints import Endpoints

LAB_PROVIDERS = (
    "Microsoft.Storage",
    "Microsoft.KeyVault",
    "Microsoft.Databricks",
    "Microsoft.MachineLearningServices",
)
REGISTRATION_WAIT = 300.0
"""Seconds a provider may take to read Registered (minutes on a fresh subscription)."""
DELETE = "delete-resource-group"


class AzureResourceGroups(ResourceGroups):
    """The subscription's resource groups; names compare case-insensitively, as ARM's do."""

    def __init__(self, credential: TokenCredential, subscription_id: str,
                 endpoints: Endpoints) -> None:
        from azure.mgmt.resource.resources import ResourceManagementClient

        self._client: Any = build(ResourceManagementClient, credential, subscription_id,
                                  endpoints)
        self._subscription = subscription_id
        self._registered = False
        self._lock = threading.Lock()
        self._poll = 0.0 if loopback(endpoints) else 5.0
        self.registration_wait = REGISTRATION_WAIT

    def _group(self, found: Any) -> ResourceGroup:
        return ResourceGroup(found.name, found.location, found.id)

    # -- providers -------------------------------------------------------------------------

    def ensure_providers(self) -> None:
        """Register the lab's resource providers (once per target) and wait until ARM reads
        them Registered.

        Raises:
            TargetError: the identity may not register them, or they stay Registering.
        """
        with self._lock:
            if self._registered:
                return
            providers = self._client.providers
            waiting = []
            for namespace in LAB_PROVIDERS:
                with translated(f"reading resource provider {namespace}"):
                    state = providers.get(namespace).registration_state
                if state == "Registered":
                    continue
                try:
                    with translated(f"registering resource provider {namespace}"):
                        providers.register(namespace)
                except TargetError as exc:
                    if "AuthorizationFailed" in str(exc):
                        raise TargetError(
                            f"the subscription has {namespace} unregistered and this identity "
                            f"may not register it: ask an owner to run `az provider register "
                            f"--namespace {namespace}`") from None
                    raise
                waiting.append(namespace)
            deadline = time.monotonic() + self.registration_wait
            while waiting:
                with translated(f"reading resource provider {waiting[0]}"):
                    state = providers.get(waiting[0]).registration_state
                if state == "Registered":
                    waiting.pop(0)
                    continue
                if time.monotonic() > deadline:
                    raise TargetError(
                        f"resource provider {waiting[0]} is still {state} after "
                        f"{self.registration_wait:.0f} s: see `az provider show --namespace "
                        f"{waiting[0]}`, then run the step again")
                time.sleep(self._poll)
            self._registered = True

    # -- the port --------------------------------------------------------------------------

    def create(self, name: str, location: str) -> ResourceGroup:
        self.ensure_providers()
        groups = self._client.resource_groups
        try:
            existing = self.get(name)
        except NotFound:
            existing = None
        if existing is not None:
            if _region(existing.location) != _region(location):
                raise Conflict(f"resource group {existing.name} exists in {existing.location}, "
                               f"not in {location}: choose another name or location")
            return existing
        try:
            with translated(f"creating resource group {name}"):
                made = groups.create_or_update(name, {"location": location})
        except TargetError as exc:
            if "InvalidResourceGroupLocation" in str(exc):
                # Made meanwhile (by a retried request, or someone else) in another region.
                found = self.get(name)
                raise Conflict(f"resource group {found.name} exists in {found.location}, not "
                               f"in {location}: choose another name or location") from None
            raise
        return self._group(made)

    def get(self, name: str) -> ResourceGroup:
        with translated(f"resource group {name} does not exist"):
            found = self._client.resource_groups.get(name)
        return self._group(found)

    def list(self) -> list[ResourceGroup]:
        with translated("listing resource groups"):
            found = [self._group(group) for group in self._client.resource_groups.list()]
        return sorted(found, key=lambda group: group.name.lower())

    def delete(self, name: str) -> bool:
        groups = self._client.resource_groups
        try:
            with translated(f"deleting resource group {name}"):
                poller = groups.begin_delete(name)
        except NotFound:
            return False
        with suppress(NotFound):  # gone while we watched
            pollers.wait(poller, self._id(name), DELETE, f"deleting resource group {name}")
        return True

    def resume(self, operation: operations.StartedOperation) -> None:
        """Wait for a deletion an earlier process started, from its continuation token."""
        try:
            with translated(f"deleting {operation.resource}"):
                self._client.resource_groups.begin_delete(
                    None, continuation_token=operation.token).result()
        except NotFound:
            return  # already gone
        except TargetError as exc:
            if error_code_of_text(str(exc)) == "OperationNotFound":
                return  # ARM forgot the operation: the group's own entry deletes it again
            raise

    def _id(self, name: str) -> str:
        return f"/subscriptions/{self._subscription}/resourceGroups/{name}"

    def close(self) -> None:
        self._client.close()


def _region(location: str) -> str:
    # ARM writes "westeurope" for "West Europe".
    return location.replace(" ", "").lower()


def error_code_of_text(message: str) -> str:
    """The ARM code a translated message starts its reason with ("…: Code: reason")."""
    _, _, reason = message.partition(": ")
    code, sep, _ = reason.partition(": ")
    return code if sep and code.isalnum() else ""


__all__ = ["LAB_PROVIDERS", "AzureResourceGroups", "error_code"]

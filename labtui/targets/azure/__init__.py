"""The azure target: the lab's resources in a real Azure subscription, through the official SDKs.

Installed with the `azure` extra (`pip install 'labtui[azure]'`). This module imports no Azure
SDK: `labtui --help` and `labtui list` stay fast; the SDKs load inside the calls that need
them. Before anything is created the engine calls `check()`: it signs in and reads the
subscription, so a wrong tenant or subscription stops the run in one line.

Pointing it elsewhere (a sovereign cloud, or loopback fakes in tests) is a matter of options:
`azure-authority`, `azure-arm-endpoint`, `azure-graph-endpoint` and `azure-ca-bundle`.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

from labtui.targets.azure.account import Account, read_account
from labtui.targets.azure.credentials import (
    DeviceCodePrompt,
    SignIn,
    print_device_code,
    sign_in,
)
from labtui.targets.azure.endpoints import Endpoints
from labtui.targets.azure.options import OPTIONS
from labtui.targets.azure.sdk_errors import Propagation
from labtui.targets.base import (
    Databricks,
    DataLake,
    DevOps,
    Identity,
    Models,
    ResourceGroups,
    Target,
    TargetError,
    Vault,
)

if TYPE_CHECKING:
    from labtui.targets.operations import StartedOperation


class AzureTarget(Target):
    """Azure: a tenant and a subscription, signed in with azure-identity."""

    name = "azure"
    options = OPTIONS

    def __init__(self, workspace: Path, *, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(workspace)
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.endpoints = Endpoints()
        self._prompt: DeviceCodePrompt | None = None
        self._credential: SignIn | None = None
        self._account: Account | None = None
        self._lock = threading.Lock()
        self.propagation = Propagation()
        """When this target last assigned a role (a 403 soon after is Transient)."""
        self._ports: dict[str, Any] = {}

    # -- configuration and sign-in ---------------------------------------------------------

    def configure(self, values: Mapping[str, str]) -> None:
        """Check the options and keep the endpoints; nothing goes over the network yet."""
        super().configure(values)
        self.endpoints = Endpoints.from_settings(self.settings)
        self._ports.clear()  # built again on these settings

    def use_device_code_prompt(self, prompt: DeviceCodePrompt) -> None:
        """How a front end shows a device code (the app draws it); call before `check()`."""
        with self._lock:
            self._prompt = prompt
            self._credential = None

    def _default_prompt(self) -> DeviceCodePrompt | None:
        if self._prompt is not None:
            return self._prompt
        if sys.__stderr__ is None or sys.stderr is not sys.__stderr__:
            # A front end holds the terminal (the app captures stderr): a printed code would
            # never be seen, so only the front end's own prompt will do.
            return None
        kind = self.settings.get("azure-credential", "auto")
        # Asked for explicitly, the code is printed; in `auto` only when someone is there.
        if kind == "device-code" or (sys.stdin.isatty() and sys.stderr.isatty()):
            return print_device_code
        return None

    @property
    def credential(self) -> SignIn:
        """The signed-in credential every SDK client of this target shares."""
        with self._lock:
            if self._credential is None:
                if not self.settings:
                    raise TargetError("the azure target is used before it is configured")
                self._credential = sign_in(
                    self.settings.get("azure-credential", "auto"), self.settings["tenant-id"],
                    self.endpoints, environ=self.environ, prompt=self._default_prompt())
            return self._credential

    def check(self) -> None:
        """Sign in and read the subscription (once): one line naming the subscription and the
        tenant when it is wrong, unreachable or not this identity's."""
        self.account()

    def account(self) -> Account:
        """Who is signed in, and the subscription's name (read once, then kept)."""
        credential = self.credential
        with self._lock:
            if self._account is None:
                self._account = read_account(credential, self.endpoints,
                                             self.settings["subscription-id"])
            return self._account

    @property
    def subscription_id(self) -> str:
        """The subscription option: where `ref` puts the lab's resources."""
        if "subscription-id" not in self.settings:
            raise TargetError("the azure target is used before it is configured")
        return self.settings["subscription-id"]

    def identity(self) -> dict[str, str]:
        return self.account().as_banner()

    def banner(self) -> str:
        return self.account().line()

    # -- the ports: each built once, on first use, with its SDK imported then ---------------

    def _not_yet(self, port: str) -> NoReturn:
        raise TargetError(f"the azure target's {port} port is not implemented yet")

    def _port(self, name: str, make: Callable[[], Any]) -> Any:
        """The port called `name`, built once (its SDK imported then) and kept."""
        with self._lock:
            port = self._ports.get(name)
        if port is None:
            built = make()
            with self._lock:
                port = self._ports.setdefault(name, built)
        return port

    @property
    def resource_groups(self) -> ResourceGroups:
        from labtui.targets.azure.resource_groups import AzureResourceGroups

        return cast(AzureResourceGroups, self._port("resource groups", lambda: AzureResourceGroups(
            self.credential, self.subscription_id, self.endpoints)))

    def resume_operation(self, operation: StartedOperation) -> None:
        """Wait for an operation an earlier process started (its journal entry outlived it):
        each port resumes its own, from the continuation token."""
        from labtui.targets.azure import datalake, key_vault, ml_workspaces, resource_groups
        from labtui.targets.azure.databricks import AzureDatabricks, workspaces

        resumes: dict[str, Callable[[StartedOperation], None]] = {
            resource_groups.DELETE: lambda op: cast(
                resource_groups.AzureResourceGroups, self.resource_groups).resume(op),
            key_vault.PURGE: lambda op: cast(key_vault.AzureVault, self.vault).resume(op),
            key_vault.CREATE: lambda op: cast(key_vault.AzureVault, self.vault).resume(op),
            datalake.CREATE: lambda op: cast(datalake.AzureDataLake, self.datalake).resume(op),
            ml_workspaces.CREATE: lambda op: cast(
                ml_workspaces.AzureMlWorkspaces, self.models).resume(op),
            workspaces.CREATE: lambda op: cast(AzureDatabricks, self.databricks).resume(op),
        }
        resume = resumes.get(operation.action)
        if resume is None:
            super().resume_operation(operation)
            return
        resume(operation)

    @property
    def datalake(self) -> DataLake:
        from labtui.targets.azure.datalake import AzureDataLake

        return cast(AzureDataLake, self._port("data lake", lambda: AzureDataLake(
            self.credential, self.endpoints, self.subscription_id, self.propagation)))

    @property
    def vault(self) -> Vault:
        from labtui.targets.azure.key_vault import AzureVault
        from labtui.targets.azure.resource_groups import AzureResourceGroups

        groups = cast(AzureResourceGroups, self.resource_groups)
        return cast(AzureVault, self._port("key vault", lambda: AzureVault(
            self.credential, self.subscription_id, self.settings["tenant-id"], self.endpoints,
            groups.ensure_providers)))

    @property
    def principals(self) -> Identity:
        from labtui.targets.azure.identity import AzureIdentity

        groups = self.resource_groups
        return cast(AzureIdentity, self._port("identity", lambda: AzureIdentity(
            self.credential, self.subscription_id, self.settings["tenant-id"], self.endpoints,
            groups.exists, on_assigned=self.propagation.note_assignment)))

    @property
    def databricks(self) -> Databricks:
        from labtui.targets.azure.databricks import AzureDatabricks

        return cast(AzureDatabricks, self._port("Databricks", lambda: AzureDatabricks(
            self.credential, self.endpoints, self.subscription_id,
            data_plane=self.settings.get("azure-databricks-endpoint") or None)))

    @property
    def models(self) -> Models:
        from labtui.targets.azure.ml_workspaces import AzureMlWorkspaces
        from labtui.targets.azure.resource_groups import AzureResourceGroups

        groups = cast(AzureResourceGroups, self.resource_groups)
        return cast(AzureMlWorkspaces, self._port("ML workspaces", lambda: AzureMlWorkspaces(
            self.credential, self.subscription_id, self.endpoints, groups.ensure_providers)))

    @property
    def devops(self) -> DevOps:
        self._not_yet("DevOps")

    def close(self) -> None:
        with self._lock:
            ports, self._ports = list(self._ports.values()), {}
        for port in ports:
            port.close()
        with self._lock:
            if self._credential is not None:
                self._credential.close()
                self._credential = None

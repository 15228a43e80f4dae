"""The azure target pointed at the loopback fakes of tests/fakes/azure, configured as a user
would configure it: by its options (the endpoints and the fakes' CA bundle)."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from labtui.targets.azure import AzureTarget
from tests.conftest import LabtuiRunner, labtui_env
from tests.fakes.azure.cloud import CLIENT_ID, CLIENT_SECRET, SUBSCRIPTION_ID, TENANT_ID, FakeCloud

SP_ENVIRON = {"AZURE_CLIENT_ID": CLIENT_ID, "AZURE_CLIENT_SECRET": CLIENT_SECRET,
              "AZURE_TENANT_ID": TENANT_ID}


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[FakeCloud]:
    fake = FakeCloud.start(tmp_path)
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def azure_labtui(tmp_path: Path, cloud: FakeCloud) -> LabtuiRunner:
    """`labtui` in a subprocess, its azure target pointed at the fakes by its options."""
    home = tmp_path / "home"
    home.mkdir()
    env = labtui_env(
        HOME=str(home), DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"), COLUMNS="200",
        PATH=path_without_az(),
        LABTUI_PREFIX="contoso7",
        LABTUI_TENANT_ID=TENANT_ID,
        LABTUI_SUBSCRIPTION_ID=SUBSCRIPTION_ID,
        LABTUI_AZURE_AUTHORITY=cloud.url,
        LABTUI_AZURE_ARM_ENDPOINT=cloud.url,
        LABTUI_AZURE_GRAPH_ENDPOINT=cloud.url,
        LABTUI_AZURE_CA_BUNDLE=str(cloud.server.ca_path),
        **SP_ENVIRON,
    )
    return LabtuiRunner(tmp_path / "ws", env)


def fake_options(cloud: FakeCloud, **more: str) -> dict[str, str]:
    """The options that point the target at the fakes."""
    return {
        "tenant-id": TENANT_ID,
        "subscription-id": SUBSCRIPTION_ID,
        "azure-authority": cloud.url,
        "azure-arm-endpoint": cloud.url,
        "azure-graph-endpoint": cloud.url,
        "azure-ca-bundle": str(cloud.server.ca_path),
        **more,
    }


def open_target(tmp_path: Path, cloud: FakeCloud, environ: Mapping[str, str] | None = None,
                **options: str) -> AzureTarget:
    target = AzureTarget(tmp_path / "ws", environ=SP_ENVIRON if environ is None else environ)
    target.configure(fake_options(cloud, **options))
    return target


def fake_az(folder: Path, token: str) -> Path:
    """An `az` on PATH whose `account get-access-token` answers what a logged-in CLI does."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "az"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, time\n"
        "if sys.argv[1:3] != ['account', 'get-access-token']:\n"
        "    sys.exit('unexpected az call')\n"
        f"print(json.dumps({{'accessToken': {token!r}, 'expires_on': int(time.time()) + 3000,\n"
        f"                  'subscription': {SUBSCRIPTION_ID!r}, 'tenant': {TENANT_ID!r},\n"
        "                  'tokenType': 'Bearer'}))\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


def path_without_az() -> str:
    """PATH with every folder holding an `az` left out."""
    return os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and not (Path(p) / "az").exists())


def signed_in_user(cloud: FakeCloud, folder: Path, upn: str = "ada@contoso.com") -> str:
    """An `az` (put on PATH by the caller: the folder is returned) logged in as the tenant's
    user `upn`: `az account get-access-token --resource R` answers a token minted for R, for
    each service the lab reaches (Resource Manager, Graph, Key Vault, Storage, Databricks)."""
    from labtui.targets.azure.endpoints import Endpoints
    from tests.fakes.azure.databricks_plane import AZURE_DATABRICKS_APP
    from tests.fakes.azure.keyvault_secrets import VAULT_AUDIENCE

    endpoints = Endpoints.from_settings(fake_options(cloud))
    oid = cloud.entra.add_user(upn)
    # azure-ai-ml asks for its cloud's Resource Manager itself (the fakes' host).
    audiences = {endpoints.arm_scope, endpoints.graph_scope, VAULT_AUDIENCE,
                 "https://storage.azure.com", AZURE_DATABRICKS_APP, cloud.url}
    tokens = {}
    for audience in audiences:
        resource = audience.removesuffix("/.default").rstrip("/")
        tokens[resource] = cloud.entra.mint(resource, upn=upn, oid=oid)
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "az"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, time\n"
        "args = sys.argv[1:]\n"
        "if args[:2] != ['account', 'get-access-token'] or '--resource' not in args:\n"
        "    sys.exit('unexpected az call: ' + ' '.join(args))\n"
        "resource = args[args.index('--resource') + 1].rstrip('/')\n"
        f"tokens = {tokens!r}\n"
        "if resource not in tokens:\n"
        "    sys.exit('ERROR: no token for ' + resource)\n"
        "print(json.dumps({'accessToken': tokens[resource],\n"
        "                  'expires_on': int(time.time()) + 3000,\n"
        f"                  'subscription': {SUBSCRIPTION_ID!r}, 'tenant': {TENANT_ID!r},\n"
        "                  'tokenType': 'Bearer'}))\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(folder)

"""The azure target's options: which tenant and subscription, how to sign in, and the cloud's
endpoints (Azure's public cloud by default; a sovereign cloud, or loopback fakes in tests).

`tenant-id`, `subscription-id`, `devops-organization` and `devops-token` are the steps' own
inputs of those names, declared alike, so one value serves both.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from labtui.step import Field

CREDENTIAL_KINDS = ("auto", "cli", "environment", "device-code")
PUBLIC_AUTHORITY = "https://login.microsoftonline.com"
PUBLIC_ARM = "https://management.azure.com"
PUBLIC_GRAPH = "https://graph.microsoft.com"


def _https(value: str) -> str | None:
    # Tokens travel to these endpoints: never over plain HTTP.
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.netloc:
        return "must be an https:// URL (tokens are sent to it)"
    if parsed.path.strip("/") or parsed.query:
        return "must be the endpoint's address only, with no path (like https://host:port)"
    return None


def _pem_file(value: str) -> str | None:
    path = Path(value).expanduser()
    try:
        head = path.read_bytes()[:65536]
    except OSError as exc:
        return f"cannot read {path} ({exc.strerror or exc})"
    if b"-----BEGIN CERTIFICATE-----" not in head:
        return f"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    return None


def _one_word(value: str) -> str | None:
    return "must be one word (no spaces or line breaks)" if value.split() != [value] else None


TENANT_ID = Field(
    "tenant-id", "Tenant ID", kind="guid",
    help="Your Entra ID (Azure AD) tenant: 'tenantId' of `az account show`.",
)
SUBSCRIPTION_ID = Field(
    "subscription-id", "Subscription ID", kind="guid",
    help="The subscription the lab's resources are made in: 'id' of `az account show`.",
)
DEVOPS_ORGANIZATION = Field(
    "devops-organization", "Azure DevOps organization", kind="url", required=False,
    help="Your organization's address, e.g. https://dev.azure.com/contoso.",
)
DEVOPS_TOKEN = Field(
    "devops-token", "Azure DevOps personal access token", kind="secret", required=False,
    validate=_one_word,
    help="User settings > Personal access tokens, with Code (read & write) and Build scopes.",
)
CREDENTIAL = Field(
    "azure-credential", "How to sign in to Azure", kind="choice", choices=CREDENTIAL_KINDS,
    default="auto",
    help="auto: a service principal from AZURE_CLIENT_ID / AZURE_CLIENT_SECRET if set, else "
    "the `az login` cache, else (in a terminal or the app) a device code; or just one of "
    "environment, cli, device-code.",
)
AUTHORITY = Field(
    "azure-authority", "Microsoft Entra authority", kind="url", default=PUBLIC_AUTHORITY,
    validate=_https,
    help="Where tokens come from: https://login.microsoftonline.com, "
    "https://login.microsoftonline.us (US Government), https://login.chinacloudapi.cn.",
)
ARM_ENDPOINT = Field(
    "azure-arm-endpoint", "Azure Resource Manager endpoint", kind="url", default=PUBLIC_ARM,
    validate=_https,
    help="https://management.azure.com, or a sovereign cloud's (management.usgovcloudapi.net …).",
)
GRAPH_ENDPOINT = Field(
    "azure-graph-endpoint", "Microsoft Graph endpoint", kind="url", default=PUBLIC_GRAPH,
    validate=_https,
    help="https://graph.microsoft.com, or a sovereign cloud's (graph.microsoft.us …).",
)
def _databricks_endpoint(value: str) -> str | None:
    # Plain HTTP only where nothing leaves the machine (loopback fakes).
    parsed = urlparse(value)
    if parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost"):
        return None if not parsed.path.strip("/") else _https(value)
    return _https(value)


DATABRICKS_ENDPOINT = Field(
    "azure-databricks-endpoint", "Databricks REST API endpoint", kind="url", required=False,
    validate=_databricks_endpoint,
    help="Where every Databricks workspace's REST API is reached instead of its own "
    "https://adb-….azuredatabricks.net (a proxy, or loopback fakes); leave empty on Azure.",
)
CA_BUNDLE = Field(
    "azure-ca-bundle", "CA bundle for Azure's endpoints", kind="path", required=False,
    validate=_pem_file,
    help="PEM certificates to trust instead of the default ones, where a proxy intercepts TLS "
    "(or for loopback fakes); used only by the azure target's own connections.",
)

OPTIONS: tuple[Field, ...] = (
    TENANT_ID, SUBSCRIPTION_ID, CREDENTIAL, DEVOPS_ORGANIZATION, DEVOPS_TOKEN,
    AUTHORITY, ARM_ENDPOINT, GRAPH_ENDPOINT, CA_BUNDLE, DATABRICKS_ENDPOINT,
)

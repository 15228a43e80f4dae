"""The real SDK clients, built against the fake with exactly what each one needed.

This is the recipe the Azure target follows when pointed at loopback fakes:
- azure-core's `RequestsTransport(connection_verify=<CA file>)` is how a client trusts the test
  CA — passed explicitly, never REQUESTS_CA_BUNDLE; one transport per client (each owns a
  session). `read_timeout` bounds a stalled response;
- `ClientSecretCredential(..., authority=<fake>, disable_instance_discovery=True)`: without
  the latter MSAL asks login.microsoftonline.com about the authority;
- management clients: `base_url=<fake>` and `polling_interval=0` (ARM's Retry-After still wins
  when the service sends one; azure-core polls once at once, then waits). The token scope stays
  https://management.azure.com/.default with a loopback base_url, so `credential_scopes` is not
  needed (measured);
- `SecretClient(vault_uri, credential, verify_challenge_resource=False, transport=…)`: the
  challenge names https://vault.azure.net, which 127.0.0.1 is not a subdomain of; its delete and
  recover pollers take the private `_polling_interval=` (2 s otherwise);
- `DataLakeServiceClient(account_url, credential, transport=…)`: nothing else; for a 127.0.0.1
  URL it goes path-style (`https://127.0.0.1:<port>/<account>`) for dfs and blob alike. Its
  retry policy is storage's own: `retry_policy=ExponentialRetry(…)` / `LinearRetry(…)` (the
  default ExponentialRetry waits about 15 s, then 18 s, with 3 s of jitter);
- `retry_backoff_factor` small so the SDK's own retry policy runs its real course quickly.
"""

from __future__ import annotations

from typing import Any

from azure.core.pipeline.transport import RequestsTransport
from azure.identity import ClientSecretCredential

from .cloud import CLIENT_ID, CLIENT_SECRET, SUBSCRIPTION_ID, TENANT_ID, FakeCloud

MANAGEMENT_SCOPE = "https://management.azure.com/.default"


def transport(cloud: FakeCloud, read_timeout: float = 10) -> RequestsTransport:
    return RequestsTransport(connection_verify=str(cloud.server.ca_path), read_timeout=read_timeout)


def credential(cloud: FakeCloud, secret: str = CLIENT_SECRET) -> ClientSecretCredential:
    return ClientSecretCredential(
        TENANT_ID,
        CLIENT_ID,
        secret,
        authority=cloud.url,
        disable_instance_discovery=True,
        transport=transport(cloud),
    )


def mgmt_kwargs(cloud: FakeCloud, **extra: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "base_url": cloud.url,
        "transport": transport(cloud, extra.pop("read_timeout", 10)),
        "polling_interval": 0,
        "retry_backoff_factor": 0.05,
    }
    kwargs.update(extra)
    return kwargs


def resources(cloud: FakeCloud, **extra: Any) -> Any:
    from azure.mgmt.resource.resources import ResourceManagementClient

    kwargs = mgmt_kwargs(cloud, **extra)
    return ResourceManagementClient(credential(cloud), SUBSCRIPTION_ID, **kwargs)


def key_vaults(cloud: FakeCloud, **extra: Any) -> Any:
    from azure.mgmt.keyvault import KeyVaultManagementClient

    kwargs = mgmt_kwargs(cloud, **extra)
    return KeyVaultManagementClient(credential(cloud), SUBSCRIPTION_ID, **kwargs)


def secrets(cloud: FakeCloud, vault_uri: str, **extra: Any) -> Any:
    from azure.keyvault.secrets import SecretClient

    kwargs: dict[str, Any] = {
        "verify_challenge_resource": False,
        "transport": transport(cloud, extra.pop("read_timeout", 10)),
        "retry_backoff_factor": 0.05,
    }
    kwargs.update(extra)
    return SecretClient(vault_uri, credential(cloud), **kwargs)


def vault_parameters(location: str = "westeurope", **properties: Any) -> dict[str, Any]:
    """What the lab's vault is created with: RBAC, standard SKU, a 7-day soft-delete window."""
    return {
        "location": location,
        "properties": {
            "tenantId": TENANT_ID,
            "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": True,
            "softDeleteRetentionInDays": 7,
            **properties,
        },
    }


def storage_accounts(cloud: FakeCloud, **extra: Any) -> Any:
    from azure.mgmt.storage import StorageManagementClient

    kwargs = mgmt_kwargs(cloud, **extra)
    return StorageManagementClient(credential(cloud), SUBSCRIPTION_ID, **kwargs)


def datalake(cloud: FakeCloud, account_url: str, **extra: Any) -> Any:
    from azure.storage.filedatalake import DataLakeServiceClient, LinearRetry

    kwargs: dict[str, Any] = {
        "transport": transport(cloud, extra.pop("read_timeout", 10)),
        "retry_policy": LinearRetry(backoff=0.1, random_jitter_range=0.05),
    }
    kwargs.update(extra)
    return DataLakeServiceClient(account_url, credential(cloud), **kwargs)


GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class Graph:
    """Microsoft Graph over REST, as the Azure target calls it: azure-core's pipeline with a
    bearer token for Graph (msgraph-sdk is async-only and 205 MB)."""

    def __init__(self, cloud: FakeCloud, credential: Any = None) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import (
            BearerTokenCredentialPolicy,
            RequestIdPolicy,
            RetryPolicy,
        )

        self.base = f"{cloud.url}/v1.0"
        self.client: Any = PipelineClient(
            cloud.url, transport=transport(cloud),
            policies=[RequestIdPolicy(), RetryPolicy(retry_backoff_factor=0.05),
                      BearerTokenCredentialPolicy(credential or globals()["credential"](cloud),
                                                  GRAPH_SCOPE)])

    def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        """The answer's status and JSON body (None for 204)."""
        from azure.core.rest import HttpRequest

        request = HttpRequest(method, f"{self.base}{path}", json=body, params=params or None)
        response = self.client.send_request(request)
        return response.status_code, (response.json() if response.content else None)


def authorization(cloud: FakeCloud, **extra: Any) -> Any:
    from azure.mgmt.authorization import AuthorizationManagementClient

    kwargs = mgmt_kwargs(cloud, **extra)
    return AuthorizationManagementClient(credential(cloud), SUBSCRIPTION_ID, **kwargs)


def databricks_workspaces(cloud: FakeCloud, **extra: Any) -> Any:
    from azure.mgmt.databricks import AzureDatabricksManagementClient

    kwargs = mgmt_kwargs(cloud, **extra)
    return AzureDatabricksManagementClient(credential(cloud), SUBSCRIPTION_ID, **kwargs)


ML_CLOUD = "LabtuiLoopback"


def ml_client(cloud: FakeCloud, resource_group: str) -> Any:
    """azure-ai-ml's MLClient in a custom cloud whose Resource Manager is the fake (its token
    scope is then the fake's own URL). Its ARM template deployments build their own
    ResourceManagementClient with no transport, so the test CA reaches them only through
    REQUESTS_CA_BUNDLE (the caller sets it); MLClient also sets AZUREML_CURRENT_CLOUD in
    os.environ, and keeps the cloud in a module-global table it never updates."""
    from azure.ai.ml import MLClient

    metadata = {
        "azure_portal": "https://portal.azure.com/",
        "resource_manager": f"{cloud.url}/",
        "active_directory": f"{cloud.url}/",
        "aml_resource_id": "https://ml.azure.com/",
        "storage_endpoint": "core.windows.net",
        "registry_discovery_endpoint": f"{cloud.url}/",
    }
    # azure-ai-ml keeps a custom cloud in a module-global table and never replaces it: one
    # name per fake server.
    return MLClient(credential(cloud), SUBSCRIPTION_ID, resource_group,
                    cloud=f"{ML_CLOUD}{cloud.server.port}",
                    cloud_metadata=metadata, enable_telemetry=False, show_progress=False,
                    transport=transport(cloud), retry_backoff_factor=0.05, polling_interval=0)

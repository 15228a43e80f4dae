"""The Databricks port on Azure: workspaces over azure-mgmt-databricks (the control plane)
and, over databricks-sdk at each workspace's `DatabricksHost`, its clusters and libraries,
secret scopes, tokens, Git folders and notebooks, one module each (`local/databricks/` is
laid out the same way). `plane` holds the SDK clients, the Entra sign-in and the errors."""

from __future__ import annotations

from labtui.targets.azure.databricks.notebooks import AzureNotebooks
from labtui.targets.azure.databricks.plane import (
    AZURE_DATABRICKS_APP,
    DATABRICKS_SCOPE,
    ORG_HEADER,
    RESOURCE_HEADER,
)
from labtui.targets.azure.databricks.repos import AzureRepos
from labtui.targets.azure.databricks.scopes import USER_TOKEN_NEEDED, AzureScopes
from labtui.targets.azure.databricks.tokens import AzureTokens
from labtui.targets.azure.databricks.workspaces import AzureWorkspaces, managed_group
from labtui.targets.ports.databricks import Databricks
from labtui.targets.resources import DATABRICKS_WORKSPACES


class AzureDatabricks(AzureWorkspaces, AzureNotebooks, AzureScopes, AzureTokens, AzureRepos,
                      Databricks):
    """Azure Databricks workspaces in one subscription, and their REST APIs."""


__all__ = ["AZURE_DATABRICKS_APP", "DATABRICKS_SCOPE", "DATABRICKS_WORKSPACES", "ORG_HEADER",
           "RESOURCE_HEADER", "USER_TOKEN_NEEDED", "AzureDatabricks", "managed_group"]

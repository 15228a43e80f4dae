"""The local Databricks: workspaces (the control plane) and, addressed by each workspace's
`DatabricksHost`, its clusters and libraries, secret scopes, tokens, Git folders and
notebooks, one module each (`azure/databricks/` is laid out the same way).

`plane` holds what they share: the sandbox's one REST API port and how a host resolves to a
workspace of the sandbox.
"""

from __future__ import annotations

from labtui.targets.base import Databricks
from labtui.targets.local.databricks.notebooks import LocalNotebooks
from labtui.targets.local.databricks.plane import (
    API_PORT_KEY,
    API_PORTS,
    LOCAL_HOST_SUFFIX,
    api_url,
)
from labtui.targets.local.databricks.repos import NOTEBOOK_HEADER
from labtui.targets.local.databricks.scopes import LocalScopes
from labtui.targets.local.databricks.tokens import LocalTokens, new_token_value
from labtui.targets.local.databricks.workspaces import LocalWorkspaces

PROFILE_RETRY_SECONDS = 5
"""How long databricks-sdk retries a call through a local profile: long enough for a 429 or
503 with Retry-After, short enough that a sandbox not served fails in seconds."""


class LocalDatabricks(LocalWorkspaces, LocalNotebooks, LocalScopes, LocalTokens, Databricks):
    """Databricks workspaces of the sandbox; scopes backed by the sandbox's vaults."""


__all__ = ["API_PORTS", "API_PORT_KEY", "LOCAL_HOST_SUFFIX", "NOTEBOOK_HEADER",
           "PROFILE_RETRY_SECONDS", "LocalDatabricks", "api_url", "new_token_value"]

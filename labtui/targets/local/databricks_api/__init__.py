"""The local Databricks workspaces' REST API on loopback (server, routes, runs, errors)."""

from labtui.targets.local.databricks_api.server import (
    AlreadyServed,
    DatabricksApiServer,
    Faults,
)

__all__ = ["AlreadyServed", "DatabricksApiServer", "Faults"]

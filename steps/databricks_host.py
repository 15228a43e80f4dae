"""Where the steps address a Databricks workspace's data plane: the host the `databricks` step
recorded (its `workspace-url` and `workspace-id` outputs), so that a call on a cluster, scope,
token or notebook needs no Resource Manager lookup of the workspace first."""

from __future__ import annotations

from labtui.step import StepContext
from labtui.targets.errors import NotFound
from labtui.targets.resources import DatabricksHost


def databricks_host(ctx: StepContext, *, env: str | None = None) -> DatabricksHost:
    """The host of the environment's workspace (`env`, default the unit's), as the
    `databricks` step recorded it.

    Raises NotFound: the `databricks` step has not run there (so there is no workspace to
    address yet).
    """
    url = ctx.outputs.get("workspace-url", step="databricks", env=env)
    workspace_id = ctx.outputs.get("workspace-id", step="databricks", env=env)
    if not url or not workspace_id:
        where = f" for {env or ctx.env}" if (env or ctx.env) else ""
        raise NotFound(f"the Databricks workspace's host is not recorded{where}: run the "
                       "databricks step first")
    return DatabricksHost(url, workspace_id)


def host_fields(host: DatabricksHost) -> dict[str, str]:
    """What a journal record keeps of a host (its `host` and `workspace_id` fields)."""
    return {"host": host.url, "workspace_id": host.workspace_id}

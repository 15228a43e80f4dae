"""The `databricks` step: a Premium workspace and a cluster with the ML libraries."""

from __future__ import annotations

from collections.abc import Iterable

from labtui_steps.databricks_host import host_fields
from labtui_steps.fields import (
    CLUSTER_NAME,
    DATABRICKS_WORKSPACE,
    LOCATION,
    PREFIX,
    RESOURCE_GROUP,
)
from labtui_steps.infrastructure import databricks_rollback, records
from labtui_steps.infrastructure.common import (
    AUTOTERMINATION_MINUTES,
    LIBRARIES,
    NODE_TYPE,
    NUM_WORKERS,
    SPARK_VERSION,
    InfrastructureStep,
    check_that,
    exists,
    resource_ref,
)

from labtui.step import (
    Change,
    Check,
    StepContext,
    Verdict,
)
from labtui.targets.base import (
    Cluster,
    NotFound,
)
from labtui.targets.resources import (
    DATABRICKS_WORKSPACES,
)


class Databricks(InfrastructureStep):
    """Premium workspace; one cluster that stops after 120 idle minutes, ML libraries on it."""

    id = "databricks"
    place = 5
    title = "Add the Databricks workspace and cluster"
    summary = ("Premium Databricks workspace, a cluster that terminates after 120 minutes of "
               "inactivity, with azureml-sdk and the ML libraries installed.")
    requires = ("resource-groups",)
    inputs = (PREFIX, LOCATION, RESOURCE_GROUP, DATABRICKS_WORKSPACE, CLUSTER_NAME)

    def run(self, ctx: StepContext) -> None:
        name, cluster_name = ctx.value("databricks-workspace"), ctx.value("cluster-name")
        databricks = ctx.target.databricks
        ref = resource_ref(ctx, DATABRICKS_WORKSPACES, "databricks-workspace")
        if exists(lambda: databricks.get_workspace(ref)):
            ctx.log(f"Databricks workspace {name} exists already")
        else:
            ctx.journal.record_once(records.DatabricksWorkspace(ref.id))
            ctx.log(f"create Databricks workspace {name} (premium)")
        workspace = databricks.create_workspace(ref, ctx.value("location"), sku="premium")
        host = workspace.host
        ctx.check_cancelled()
        cluster = _find_cluster(databricks.clusters(host), cluster_name)
        if cluster is None:
            ctx.journal.record_once(records.Cluster(cluster_name, workspace=name,
                                                     **host_fields(host)))
            ctx.log(f"create cluster {cluster_name}: terminates after "
                    f"{AUTOTERMINATION_MINUTES} minutes of inactivity")
            cluster = databricks.create_cluster(
                host, cluster_name, node_type=NODE_TYPE, spark_version=SPARK_VERSION,
                num_workers=NUM_WORKERS, autotermination_minutes=AUTOTERMINATION_MINUTES)
        elif cluster.autotermination_minutes != AUTOTERMINATION_MINUTES:
            ctx.journal.record_once(records.ClusterAutotermination(
                cluster.cluster_id, workspace=name,
                previous=str(cluster.autotermination_minutes), **host_fields(host)))
            ctx.log(f"set cluster {cluster_name} to terminate after "
                    f"{AUTOTERMINATION_MINUTES} idle minutes")
            cluster = databricks.edit_cluster(
                host, cluster.cluster_id, autotermination_minutes=AUTOTERMINATION_MINUTES)
        ctx.check_cancelled()
        installed = {status.library for status in
                     databricks.cluster_libraries(host, cluster.cluster_id)}
        missing = [library for library in LIBRARIES if library not in installed]
        if missing:
            specs = ",".join(library.spec for library in missing)
            ctx.journal.record_once(records.ClusterLibraries(
                cluster.cluster_id, workspace=name, libraries=specs, **host_fields(host)))
            ctx.log(f"install {specs.replace(',', ', ')} on {cluster_name}")
            databricks.install_libraries(host, cluster.cluster_id, missing)
        ctx.outputs.set("workspace-url", workspace.url)
        ctx.outputs.set("workspace-id", workspace.workspace_id)
        ctx.outputs.set("cluster-id", cluster.cluster_id)

    def verify(self, ctx: StepContext) -> Verdict:
        name, cluster_name = ctx.value("databricks-workspace"), ctx.value("cluster-name")
        databricks = ctx.target.databricks
        try:
            workspace = databricks.get_workspace(
                resource_ref(ctx, DATABRICKS_WORKSPACES, "databricks-workspace"))
        except NotFound:
            return Verdict.of(Check("workspace", False, f"Databricks workspace {name} does "
                                    f"not exist in resource group {ctx.value('resource-group')}",
                                    "run this step to create it"))
        checks = [
            Check("workspace", True),
            check_that("premium tier", None if workspace.sku == "premium" else
                   f"{name} is on the {workspace.sku} tier; the lab needs Premium "
                   "(Key Vault-backed secret scopes and RBAC)"),
        ]
        cluster = _find_cluster(databricks.clusters(workspace.host), cluster_name)
        if cluster is None:
            checks.append(Check("cluster", False, f"there is no cluster {cluster_name} in {name}",
                                "run this step to create it"))
            return Verdict(tuple(checks))
        minutes = cluster.autotermination_minutes
        if minutes == 0:
            problem: str | None = (
                f"cluster {cluster_name} never terminates by itself (auto-termination is off): "
                "it keeps running, and billing, while idle")
        elif minutes != AUTOTERMINATION_MINUTES:
            problem = (f"cluster {cluster_name} terminates after {minutes} idle minutes; the lab "
                       f"uses {AUTOTERMINATION_MINUTES}")
        else:
            problem = None
        installed = {status.library for status in
                     databricks.cluster_libraries(workspace.host, cluster.cluster_id)
                     if status.status == "INSTALLED"}
        missing = [library.spec for library in LIBRARIES if library not in installed]
        recorded = ctx.outputs.get("cluster-id")
        checks += [
            Check("cluster", True),
            check_that("auto-termination", problem,
                   f"set 'Terminate after {AUTOTERMINATION_MINUTES} minutes of inactivity' or "
                   "run this step again"),
            check_that("libraries", f"not installed on {cluster_name}: {', '.join(missing)}"
                   if missing else None, "run this step again to install them"),
            check_that("cluster id recorded", None if recorded == cluster.cluster_id else
                   "the cluster's id is not recorded for the later steps",
                   "run this step again"),
            check_that("host recorded", None if (
                ctx.outputs.get("workspace-url"), ctx.outputs.get("workspace-id")) == (
                workspace.url, workspace.workspace_id) else
                f"the host of {name} ({workspace.url}, workspace {workspace.workspace_id}) is "
                "not recorded for the later steps", "run this step again"),
        ]
        return Verdict(tuple(checks))

    def rollback(self, ctx: StepContext) -> None:
        """Two round trips: a workspace the step made goes with everything in it, a cluster
        it made with its libraries (`databricks_rollback`)."""
        databricks_rollback.rollback(ctx)

    def plan(self, ctx: StepContext) -> list[Change]:
        name, cluster_name = ctx.value("databricks-workspace"), ctx.value("cluster-name")
        databricks = ctx.target.databricks
        ref = resource_ref(ctx, DATABRICKS_WORKSPACES, "databricks-workspace")
        try:
            host = databricks.get_workspace(ref).host
        except NotFound:
            return [Change("create", "Databricks workspace", name, "premium"),
                    Change("create", "cluster", cluster_name,
                           f"auto-termination {AUTOTERMINATION_MINUTES} minutes"),
                    *(Change("create", "library", lib.spec) for lib in LIBRARIES)]
        changes = [Change("keep", "Databricks workspace", name)]
        cluster = _find_cluster(databricks.clusters(host), cluster_name)
        if cluster is None:
            return [*changes, Change("create", "cluster", cluster_name),
                    *(Change("create", "library", lib.spec) for lib in LIBRARIES)]
        changes.append(Change(
            "keep" if cluster.autotermination_minutes == AUTOTERMINATION_MINUTES else "change",
            "cluster", cluster_name, f"auto-termination {AUTOTERMINATION_MINUTES} minutes"))
        installed = {s.library for s in databricks.cluster_libraries(host, cluster.cluster_id)}
        changes += [Change("keep" if lib in installed else "create", "library", lib.spec)
                    for lib in LIBRARIES]
        return changes


def _find_cluster(clusters: Iterable[Cluster], name: str) -> Cluster | None:
    return next((cluster for cluster in clusters if cluster.name == name), None)

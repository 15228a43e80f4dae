"""The clusters and libraries routes (`clusters/*`, `libraries/*`) in the documented shapes."""

from __future__ import annotations

from typing import Any

from labtui.targets.base import Cluster, Library, NotFound
from labtui.targets.local.databricks_api.errors import invalid
from labtui.targets.local.databricks_api.request import Request, RouteState, integer


class ComputeRoutes(RouteState):
    """Clusters, and the libraries installed on them."""

    # --- clusters ------------------------------------------------------------------------

    def _cluster(self, r: Request) -> Cluster:
        cluster_id = str(r.arg("cluster_id"))
        try:
            return self.databricks.get_cluster(r.workspace, cluster_id)
        except NotFound:
            # As Databricks answers for an unknown cluster id.
            raise invalid(f"Cluster {cluster_id} does not exist") from None

    def clusters_list(self, r: Request) -> dict[str, Any]:
        return {"clusters": [_cluster_info(c) for c in self.databricks.clusters(r.workspace)]}

    def clusters_get(self, r: Request) -> dict[str, Any]:
        return _cluster_info(self._cluster(r))

    def clusters_create(self, r: Request) -> dict[str, Any]:
        workers = r.get("num_workers")
        if workers is None and isinstance(r.get("autoscale"), dict):
            workers = r.body["autoscale"].get("min_workers")
        cluster = self.databricks.create_cluster(
            r.workspace, str(r.arg("cluster_name")), node_type=str(r.arg("node_type_id")),
            spark_version=str(r.arg("spark_version")),
            num_workers=integer(workers or 0, "num_workers"),
            autotermination_minutes=integer(r.get("autotermination_minutes") or 0,
                                         "autotermination_minutes"))
        return {"cluster_id": cluster.cluster_id}

    def clusters_edit(self, r: Request) -> dict[str, Any]:
        cluster = self._cluster(r)
        fixed = {"cluster_name": cluster.name, "node_type_id": cluster.node_type,
                 "spark_version": cluster.spark_version, "num_workers": cluster.num_workers}
        changed = sorted(name for name, value in fixed.items()
                         if r.get(name) is not None and r.get(name) != value)
        if changed:
            raise invalid(f"the local workspace can change only autotermination_minutes of "
                          f"cluster {cluster.cluster_id} (not {', '.join(changed)})")
        self.databricks.edit_cluster(
            r.workspace, cluster.cluster_id,
            autotermination_minutes=integer(r.get("autotermination_minutes") or 0,
                                         "autotermination_minutes"))
        return {}

    def clusters_update(self, r: Request) -> dict[str, Any]:
        cluster = self._cluster(r)
        fields = {name.strip() for name in str(r.arg("update_mask")).split(",")}
        if fields != {"autotermination_minutes"}:
            raise invalid("the local workspace can update only autotermination_minutes "
                          f"(update_mask {r.body['update_mask']!r})")
        given = r.get("cluster")
        minutes = given.get("autotermination_minutes") if isinstance(given, dict) else None
        self.databricks.edit_cluster(r.workspace, cluster.cluster_id,
                                     autotermination_minutes=integer(minutes or 0,
                                                                  "autotermination_minutes"))
        return {}

    def clusters_start(self, r: Request) -> dict[str, Any]:
        self.databricks.set_cluster_state(r.workspace, self._cluster(r).cluster_id, "RUNNING")
        return {}

    def clusters_delete(self, r: Request) -> dict[str, Any]:
        # clusters/delete terminates; its settings stay until permanent-delete.
        self.databricks.set_cluster_state(r.workspace, self._cluster(r).cluster_id,
                                          "TERMINATED")
        return {}

    def clusters_permanent_delete(self, r: Request) -> dict[str, Any]:
        self.databricks.delete_cluster(r.workspace, self._cluster(r).cluster_id)
        return {}

    # --- libraries -----------------------------------------------------------------------

    def libraries_status(self, r: Request) -> dict[str, Any]:
        cluster = self._cluster(r)
        statuses = self.databricks.cluster_libraries(r.workspace, cluster.cluster_id)
        return {"cluster_id": cluster.cluster_id, "library_statuses": [
            {"library": _library_json(s.library), "status": s.status,
             "is_library_for_all_clusters": False} for s in statuses]}

    def libraries_install(self, r: Request) -> dict[str, Any]:
        cluster = self._cluster(r)
        self.databricks.install_libraries(r.workspace, cluster.cluster_id, _libraries(r))
        return {}

    def libraries_uninstall(self, r: Request) -> dict[str, Any]:
        cluster = self._cluster(r)
        self.databricks.uninstall_libraries(r.workspace, cluster.cluster_id, _libraries(r))
        return {}


def _cluster_info(cluster: Cluster) -> dict[str, Any]:
    return {"cluster_id": cluster.cluster_id, "cluster_name": cluster.name,
            "spark_version": cluster.spark_version, "node_type_id": cluster.node_type,
            "driver_node_type_id": cluster.node_type, "num_workers": cluster.num_workers,
            "autotermination_minutes": cluster.autotermination_minutes,
            "state": cluster.state, "state_message": "", "cluster_source": "API"}


_LIBRARY_FIELDS = {"pypi": "package", "cran": "package", "maven": "coordinates"}


def _library_json(library: Library) -> dict[str, Any]:
    field = _LIBRARY_FIELDS.get(library.kind)
    return {library.kind: {field: library.spec} if field else library.spec}


def _libraries(r: Request) -> list[Library]:
    given = r.arg("libraries")
    if not isinstance(given, list):
        raise invalid("libraries must be a list")
    libraries = []
    for item in given:
        if not isinstance(item, dict) or len(item) != 1:
            raise invalid(f"a library names one kind (pypi, whl, jar …): {item!r}")
        (kind, spec), = item.items()
        field = _LIBRARY_FIELDS.get(kind)
        if field is not None:
            if not isinstance(spec, dict) or not spec.get(field):
                raise invalid(f"a {kind} library needs {field}")
            spec = spec[field]
        libraries.append(Library(str(kind), str(spec)))
    return libraries

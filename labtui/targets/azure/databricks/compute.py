"""Azure Databricks clusters and their libraries, over databricks-sdk (`clusters`,
`libraries`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labtui.targets.azure.databricks.plane import AzureDatabricksPlane, text
from labtui.targets.errors import NotFound, TargetError
from labtui.targets.resources import Cluster, DatabricksHost, Library, LibraryStatus

LIBRARY_KINDS = ("pypi", "maven", "jar", "whl", "egg", "requirements")


class AzureCompute(AzureDatabricksPlane):
    """Clusters (classic compute) and the libraries installed on them."""

    def create_cluster(self, host: DatabricksHost, name: str, *, node_type: str,
                       spark_version: str, num_workers: int, autotermination_minutes: int
                       ) -> Cluster:
        w = self._client(host)
        with self._sdk(f"cluster {name} of Databricks workspace {host.workspace_id}"):
            waiter = w.clusters.create(
                cluster_name=name, node_type_id=node_type, spark_version=spark_version,
                num_workers=num_workers, autotermination_minutes=autotermination_minutes)
            cluster_id = waiter.response.cluster_id
        return self.get_cluster(host, str(cluster_id))

    def clusters(self, host: DatabricksHost) -> list[Cluster]:
        w = self._client(host)
        with self._sdk(f"Databricks workspace {host.workspace_id}"):
            found = [cluster_of(c) for c in w.clusters.list()]
        return sorted(found, key=lambda c: (c.name, c.cluster_id))

    def get_cluster(self, host: DatabricksHost, cluster_id: str) -> Cluster:
        w = self._client(host)
        with self._sdk(f"cluster {cluster_id} of Databricks workspace {host.workspace_id}"):
            return cluster_of(w.clusters.get(cluster_id))

    def edit_cluster(self, host: DatabricksHost, cluster_id: str, *,
                     autotermination_minutes: int) -> Cluster:
        from databricks.sdk.service.compute import UpdateClusterResource

        w = self._client(host)
        with self._sdk(f"cluster {cluster_id} of Databricks workspace {host.workspace_id}"):
            w.clusters.update(cluster_id, "autotermination_minutes",
                              cluster=UpdateClusterResource(
                                  autotermination_minutes=autotermination_minutes))
        return self.get_cluster(host, cluster_id)

    def delete_cluster(self, host: DatabricksHost, cluster_id: str) -> bool:
        try:
            self.get_cluster(host, cluster_id)
        except NotFound:
            return False
        w = self._client(host)
        with self._sdk(f"cluster {cluster_id} of Databricks workspace {host.workspace_id}"):
            w.clusters.permanent_delete(cluster_id)
        return True

    # -- libraries -------------------------------------------------------------------------

    def install_libraries(self, host: DatabricksHost, cluster_id: str,
                          libraries: Sequence[Library]) -> None:
        w = self._client(host)
        with self._sdk(f"libraries of cluster {cluster_id} in Databricks workspace "
                       f"{host.workspace_id}"):
            w.libraries.install(cluster_id, [_sdk_library(lib) for lib in libraries])

    def cluster_libraries(self, host: DatabricksHost, cluster_id: str) -> list[LibraryStatus]:
        w = self._client(host)
        with self._sdk(f"libraries of cluster {cluster_id} in Databricks workspace "
                       f"{host.workspace_id}"):
            statuses = list(w.libraries.cluster_status(cluster_id))
        return [LibraryStatus(_library(s.library), text(s.status)) for s in statuses]

    def uninstall_libraries(self, host: DatabricksHost, cluster_id: str,
                            libraries: Sequence[Library]) -> None:
        installed = {s.library for s in self.cluster_libraries(host, cluster_id)}
        gone = [lib for lib in libraries if lib in installed]
        if not gone:
            return
        w = self._client(host)
        with self._sdk(f"libraries of cluster {cluster_id} in Databricks workspace "
                       f"{host.workspace_id}"):
            w.libraries.uninstall(cluster_id, [_sdk_library(lib) for lib in gone])


def cluster_of(info: Any) -> Cluster:
    return Cluster(cluster_id=str(info.cluster_id), name=str(info.cluster_name or ""),
                   node_type=str(info.node_type_id or ""),
                   spark_version=str(info.spark_version or ""),
                   num_workers=int(info.num_workers or 0),
                   autotermination_minutes=int(info.autotermination_minutes or 0),
                   state=text(info.state))


def _sdk_library(library: Library) -> Any:
    from databricks.sdk.service.compute import Library as SdkLibrary
    from databricks.sdk.service.compute import MavenLibrary, PythonPyPiLibrary

    if library.kind == "pypi":
        return SdkLibrary(pypi=PythonPyPiLibrary(package=library.spec))
    if library.kind == "maven":
        return SdkLibrary(maven=MavenLibrary(coordinates=library.spec))
    if library.kind in LIBRARY_KINDS:
        given: dict[str, Any] = {library.kind: library.spec}
        return SdkLibrary(**given)
    raise TargetError(f"a {library.kind} library cannot be installed on Databricks: "
                      f"one of {', '.join(LIBRARY_KINDS)}")


def _library(sdk: Any) -> Library:
    if sdk.pypi is not None:
        return Library("pypi", str(sdk.pypi.package))
    if sdk.maven is not None:
        return Library("maven", str(sdk.maven.coordinates))
    for kind in LIBRARY_KINDS:
        value = getattr(sdk, kind, None)
        if isinstance(value, str):
            return Library(kind, value)
    return Library("unknown", str(sdk.as_dict()))

"""Local Databricks clusters and the libraries installed on them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

from labtui.targets.base import Cluster, Library, LibraryStatus, TargetError
from labtui.targets.local.databricks.plane import LocalDatabricksPlane, cluster_of
from labtui.targets.local.sandbox import with_latency
from labtui.targets.resources import DatabricksHost


def _new_cluster_id() -> str:
    """An id shaped like Databricks' own: MMDD-HHMMSS-8 lowercase letters/digits."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    stamp = time.strftime("%m%d-%H%M%S", time.gmtime())
    return f"{stamp}-{''.join(secrets.choice(alphabet) for _ in range(8))}"


@with_latency
class LocalCompute(LocalDatabricksPlane):
    """Cluster records (a cluster "runs" the notebooks of the local notebook host) and their
    libraries."""

    def create_cluster(
        self,
        host: DatabricksHost,
        name: str,
        *,
        node_type: str,
        spark_version: str,
        num_workers: int,
        autotermination_minutes: int,
    ) -> Cluster:
        if autotermination_minutes != 0 and not 10 <= autotermination_minutes <= 43200:
            raise TargetError(
                f"cluster {name}: auto-termination must be 0 (off) or 10-43200 minutes"
            )
        cluster_id = _new_cluster_id()
        with self._sandbox.transaction() as conn:
            workspace = self._name(host, conn)
            conn.execute(
                "INSERT INTO clusters VALUES (?, ?, ?, ?, ?, ?, ?, 'RUNNING')",
                (cluster_id, workspace, name, node_type, spark_version, num_workers,
                 autotermination_minutes),
            )
            row = conn.execute(
                "SELECT * FROM clusters WHERE cluster_id = ?", (cluster_id,)
            ).fetchone()
        return cluster_of(row)

    def clusters(self, host: DatabricksHost) -> list[Cluster]:
        rows = self._sandbox.query(
            "SELECT * FROM clusters WHERE workspace = ? ORDER BY name, cluster_id",
            (self._name(host),))
        return [cluster_of(row) for row in rows]

    def get_cluster(self, host: DatabricksHost, cluster_id: str) -> Cluster:
        return cluster_of(self._cluster_row(host, cluster_id))

    def edit_cluster(
        self, host: DatabricksHost, cluster_id: str, *, autotermination_minutes: int
    ) -> Cluster:
        self._cluster_row(host, cluster_id)
        with self._sandbox.transaction() as conn:
            conn.execute(
                "UPDATE clusters SET autotermination_minutes = ? WHERE cluster_id = ?",
                (autotermination_minutes, cluster_id),
            )
        return cluster_of(self._cluster_row(host, cluster_id))

    def delete_cluster(self, host: DatabricksHost, cluster_id: str) -> bool:
        with self._sandbox.transaction() as conn:
            workspace = self._name(host, conn)
            return bool(
                conn.execute(
                    "DELETE FROM clusters WHERE cluster_id = ? AND workspace = ?",
                    (cluster_id, workspace),
                ).rowcount
            )

    def set_cluster_state(self, host: DatabricksHost, cluster_id: str, state: str) -> Cluster:
        """Start ("RUNNING") or terminate ("TERMINATED") a cluster; its settings stay.

        Raises NotFound.
        """
        self._cluster_row(host, cluster_id)
        with self._sandbox.transaction() as conn:
            conn.execute("UPDATE clusters SET state = ? WHERE cluster_id = ?", (state, cluster_id))
        return cluster_of(self._cluster_row(host, cluster_id))

    # --- libraries -----------------------------------------------------------------------

    def install_libraries(
        self, host: DatabricksHost, cluster_id: str, libraries: Sequence[Library]
    ) -> None:
        self._cluster_row(host, cluster_id)
        with self._sandbox.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO cluster_libraries VALUES (?, ?, ?, 'INSTALLED')",
                [(cluster_id, lib.kind, lib.spec) for lib in libraries],
            )

    def cluster_libraries(self, host: DatabricksHost, cluster_id: str) -> list[LibraryStatus]:
        self._cluster_row(host, cluster_id)
        rows = self._sandbox.query(
            "SELECT kind, spec, status FROM cluster_libraries WHERE cluster_id = ? "
            "ORDER BY kind, spec",
            (cluster_id,),
        )
        return [LibraryStatus(Library(r["kind"], r["spec"]), r["status"]) for r in rows]

    def uninstall_libraries(
        self, host: DatabricksHost, cluster_id: str, libraries: Sequence[Library]
    ) -> None:
        self._cluster_row(host, cluster_id)
        with self._sandbox.transaction() as conn:
            conn.executemany(
                "DELETE FROM cluster_libraries WHERE cluster_id = ? AND kind = ? AND spec = ?",
                [(cluster_id, lib.kind, lib.spec) for lib in libraries],
            )

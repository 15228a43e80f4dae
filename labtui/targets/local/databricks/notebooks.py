"""Local Databricks notebooks (imported sources, and those inside Git folders) and their
runs on a cluster, by the sandbox's notebook host."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from labtui.targets.base import NotebookRun, NotFound, TargetError
from labtui.targets.local.databricks.compute import LocalCompute
from labtui.targets.local.databricks.repos import LocalRepos
from labtui.targets.local.databricks.scopes import LocalScopes
from labtui.targets.local.sandbox import with_latency
from labtui.targets.resources import DatabricksHost


@with_latency
class LocalNotebooks(LocalRepos, LocalCompute, LocalScopes):
    """Import, export, delete and run notebooks (a run reads the scopes through `dbutils`)."""

    def import_notebook(self, host: DatabricksHost, path: str, source: str) -> None:
        with self._sandbox.transaction() as conn:
            name = self._name(host, conn)
            conn.execute(
                "INSERT INTO notebooks (workspace, path, source) VALUES (?, ?, ?) "
                "ON CONFLICT (workspace, path) DO UPDATE SET source = excluded.source",
                (name, path, source),
            )

    def notebook_source(self, host: DatabricksHost, path: str) -> str:
        name = self._name(host)
        rows = self._sandbox.query(
            "SELECT source FROM notebooks WHERE workspace = ? AND path = ?", (name, path))
        if not rows or rows[0]["source"] is None:
            in_folder = self._git_folder_source(name, path)
            if in_folder is not None:
                return in_folder
            raise NotFound(f"notebook {path} does not exist in workspace {name}")
        return str(rows[0]["source"])

    def delete_notebook(self, host: DatabricksHost, path: str) -> bool:
        with self._sandbox.transaction() as conn:
            name = self._name(host, conn)
            rows = conn.execute(
                "SELECT link_url FROM notebooks WHERE workspace = ? AND path = ? "
                "AND source IS NOT NULL", (name, path)).fetchall()
            if not rows:
                return False
            if rows[0]["link_url"] is None:
                conn.execute("DELETE FROM notebooks WHERE workspace = ? AND path = ?",
                             (name, path))
            else:
                conn.execute("UPDATE notebooks SET source = NULL WHERE workspace = ? AND "
                             "path = ?", (name, path))
            return True

    def notebooks(self, host: DatabricksHost) -> list[str]:
        """Paths of the workspace's notebooks (linked-only entries have no source), sorted.

        Raises NotFound (the host).
        """
        rows = self._sandbox.query(
            "SELECT path FROM notebooks WHERE workspace = ? AND source IS NOT NULL "
            "ORDER BY path", (self._name(host),))
        return [str(row["path"]) for row in rows]

    def run_notebook(
        self,
        host: DatabricksHost,
        cluster_id: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        log: Callable[[str], None] = lambda line: None,
        progress: Callable[[float, float, str], None] = lambda done, total, text: None,
        cancelled: threading.Event | None = None,
    ) -> NotebookRun:
        if self._host is None:
            raise TargetError("this sandbox cannot run notebooks")
        cluster = self.get_cluster(host, cluster_id)
        source = self.notebook_source(host, path)
        log(f"cluster {cluster.name} ({cluster.spark_version}): running {path}")
        return self._host.run(self, host, self._name(host), cluster, path, source,
                              params or {}, log, progress, cancelled)

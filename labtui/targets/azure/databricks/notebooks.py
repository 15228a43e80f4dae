"""Azure Databricks notebooks over databricks-sdk (`workspace` import/export/delete) and
their runs as one-time jobs (`jobs.submit`), followed until they end."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from labtui.targets.azure.databricks.compute import AzureCompute
from labtui.targets.azure.databricks.plane import text
from labtui.targets.errors import TargetError
from labtui.targets.resources import DatabricksHost, NotebookRun

TERMINAL = {"TERMINATED", "SKIPPED", "INTERNAL_ERROR"}


class AzureNotebooks(AzureCompute):
    """Import, export, delete and run notebooks (a run needs the cluster it runs on)."""

    def import_notebook(self, host: DatabricksHost, path: str, source: str) -> None:
        from databricks.sdk.errors import NotFound as SdkNotFound
        from databricks.sdk.service.workspace import ImportFormat

        w = self._client(host)
        content = base64.b64encode(source.encode("utf-8")).decode("ascii")
        with self._sdk(f"notebook {path} of Databricks workspace {host.workspace_id}"):
            def put() -> None:
                w.workspace.import_(path, content=content, format=ImportFormat.SOURCE,
                                    language=_language(source), overwrite=True)
            try:
                put()
            except SdkNotFound:
                # Databricks wants the folder first.
                w.workspace.mkdirs(path.rsplit("/", 1)[0] or "/")
                put()

    def notebook_source(self, host: DatabricksHost, path: str) -> str:
        from databricks.sdk.service.workspace import ExportFormat

        w = self._client(host)
        with self._sdk(f"notebook {path} of Databricks workspace {host.workspace_id}"):
            exported = w.workspace.export(path, format=ExportFormat.SOURCE)
        return base64.b64decode(exported.content or "").decode("utf-8")

    def delete_notebook(self, host: DatabricksHost, path: str) -> bool:
        from databricks.sdk.errors import NotFound as SdkNotFound

        w = self._client(host)
        with self._sdk(f"notebook {path} of Databricks workspace {host.workspace_id}"):
            try:
                w.workspace.delete(path)
            except SdkNotFound:
                return False
        return True

    # -- runs ------------------------------------------------------------------------------

    def run_notebook(
        self, host: DatabricksHost, cluster_id: str, path: str, *,
        params: Mapping[str, str] | None = None,
        log: Callable[[str], None] = lambda line: None,
        progress: Callable[[float, float, str], None] = lambda done, total, text: None,
        cancelled: threading.Event | None = None,
    ) -> NotebookRun:
        from databricks.sdk.service.jobs import NotebookTask, SubmitTask

        from labtui.step import Cancelled

        self.get_cluster(host, cluster_id)
        self.notebook_source(host, path)  # NotFound before a run is made
        w = self._client(host)
        what = f"the run of {path} in Databricks workspace {host.workspace_id}"
        started = time.monotonic()
        with self._sdk(what):
            run_id = w.jobs.submit(run_name=f"labtui {path}", tasks=[SubmitTask(
                task_key="notebook", existing_cluster_id=cluster_id,
                notebook_task=NotebookTask(notebook_path=path,
                                           base_parameters=dict(params or {})))]).run_id
        log(f"run {run_id} submitted: {path} on cluster {cluster_id}")
        seen = ""
        while True:
            with self._sdk(what):
                run = w.jobs.get_run(run_id)
            state = run.state
            life = text(state.life_cycle_state) if state else ""
            if life != seen:
                log(f"run {run_id}: {life}")
                progress(0.0, 1.0, life.lower())
                seen = life
            if life in TERMINAL:
                break
            if cancelled is not None and cancelled.is_set():
                with self._sdk(what):
                    w.jobs.cancel_run(run_id)
                raise Cancelled(f"{what} was cancelled")
            if cancelled is not None:
                cancelled.wait(self.poll_seconds)
            else:
                time.sleep(self.poll_seconds)
        result = text(state.result_state) if state else ""
        task_run = (run.tasks or [run])[0]
        with self._sdk(what):
            output = w.jobs.get_run_output(task_run.run_id)
        if result != "SUCCESS":
            message = (state.state_message if state else "") or output.error or result
            raise TargetError(f"{what} failed: {' '.join(str(message).split())[:300]}")
        progress(1.0, 1.0, "done")
        exit_value = output.notebook_output.result if output.notebook_output else None
        return NotebookRun(str(run_id), result, exit_value,
                           seconds=round(time.monotonic() - started, 3))


def _language(source: str) -> Any:
    from databricks.sdk.service.workspace import Language

    head = source.lstrip().split("\n", 1)[0]
    if head.startswith("--"):
        return Language.SQL
    if head.startswith("//"):
        return Language.SCALA
    return Language.PYTHON

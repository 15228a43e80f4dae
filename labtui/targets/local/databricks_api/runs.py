"""One-time job runs (`jobs/runs/submit`): a notebook task runs on the local notebook runner
in a background thread, through the states Databricks reports — PENDING, RUNNING, then
TERMINATED with SUCCESS, FAILED or CANCELED.

Runs live as long as the server: like a cluster's driver logs, they are gone after a restart.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from labtui.step import Cancelled, StepError
from labtui.targets.base import TargetError
from labtui.targets.local.databricks import LocalDatabricks
from labtui.targets.local.databricks_api.errors import ApiError, invalid, not_found
from labtui.targets.resources import DatabricksHost

log = logging.getLogger("labtui.databricks_api")

JOIN_SECONDS = 30.0
"""How long closing the server waits for a cancelled run to reach a safe point."""


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Run:
    """A submitted run with its one notebook task."""

    run_id: int
    task_run_id: int
    workspace: DatabricksHost
    run_name: str
    task_key: str
    cluster_id: str
    notebook_path: str
    params: dict[str, str]
    by_task: bool
    """Submitted as 2.1 tasks (output is read per task) rather than the 2.0 single task."""
    life_cycle_state: str = "PENDING"
    result_state: str | None = None
    state_message: str = ""
    start_time: int = field(default_factory=_now_ms)
    end_time: int = 0
    exit_value: str | None = None
    error: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"life_cycle_state": self.life_cycle_state,
                                 "state_message": self.state_message,
                                 "user_cancelled_or_timedout": self.result_state == "CANCELED"}
        if self.result_state is not None:
            state["result_state"] = self.result_state
        return state

    def task(self) -> dict[str, Any]:
        task: dict[str, Any] = {
            "run_id": self.task_run_id, "task_key": self.task_key,
            "existing_cluster_id": self.cluster_id,
            "notebook_task": {"notebook_path": self.notebook_path,
                              "base_parameters": dict(self.params)},
            "state": self.state(), "start_time": self.start_time,
        }
        if self.end_time:
            task["end_time"] = self.end_time
        return task

    def describe(self, host: str) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "run_id": self.run_id, "number_in_job": self.run_id, "run_name": self.run_name,
            "run_type": "SUBMIT_RUN", "state": self.state(), "start_time": self.start_time,
            "run_page_url": f"{host}/#job/runs/{self.run_id}",
        }
        if self.end_time:
            answer["end_time"] = self.end_time
        if self.by_task:
            answer["tasks"] = [self.task()]
        else:
            answer.update(existing_cluster_id=self.cluster_id,
                          task={"notebook_task": self.task()["notebook_task"]})
        return answer


def _notebook_task(spec: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """(cluster id, notebook path, parameters) of one task (or of a 2.0 request)."""
    notebook = spec.get("notebook_task")
    if not isinstance(notebook, dict) or not notebook.get("notebook_path"):
        raise invalid("the local workspace runs notebook tasks only: give notebook_task "
                      "with a notebook_path")
    cluster_id = spec.get("existing_cluster_id")
    if not cluster_id:
        raise invalid("the local workspace runs on existing clusters: give existing_cluster_id")
    params = notebook.get("base_parameters") or {}
    if not isinstance(params, dict):
        raise invalid("base_parameters must be an object of strings")
    return str(cluster_id), str(notebook["notebook_path"]), {str(k): str(v)
                                                             for k, v in params.items()}


class JobRuns:
    """The runs submitted to the workspaces of one sandbox."""

    def __init__(self, databricks: LocalDatabricks) -> None:
        self._databricks = databricks
        self._runs: dict[int, Run] = {}
        self._lock = threading.Lock()
        # Run ids look like Databricks' (large, not starting at 1); a run and its task get
        # consecutive ids.
        self._ids = itertools.count(secrets.randbelow(10**9) + 10**11, 2)

    def submit(self, workspace: DatabricksHost, body: dict[str, Any]) -> int:
        tasks = body.get("tasks")
        if tasks is not None:
            if not isinstance(tasks, list) or len(tasks) != 1 or not isinstance(tasks[0], dict):
                raise invalid("the local workspace runs one task per submitted run")
            spec, task_key = tasks[0], str(tasks[0].get("task_key") or "")
            if not task_key:
                raise invalid("Missing required field: task_key")
        else:
            spec, task_key = body, "notebook"
        cluster_id, path, params = _notebook_task(spec)
        try:
            self._databricks.get_cluster(workspace, cluster_id)
        except TargetError:
            raise invalid(f"Cluster {cluster_id} does not exist") from None
        run_id = next(self._ids)
        run = Run(run_id, run_id + 1, workspace, str(body.get("run_name") or "Untitled"),
                  task_key, cluster_id, path, params, by_task=tasks is not None)
        run.thread = threading.Thread(target=self._execute, args=(run,), daemon=True,
                                      name=f"databricks-run-{run_id}")
        with self._lock:
            self._runs[run_id] = run
        run.thread.start()
        return run_id

    def _execute(self, run: Run) -> None:
        run.life_cycle_state, run.state_message = "RUNNING", "In run"
        try:
            outcome = self._databricks.run_notebook(
                run.workspace, run.cluster_id, run.notebook_path, params=run.params,
                cancelled=run.cancelled)
        except Cancelled:
            run.result_state, run.state_message = "CANCELED", "Run cancelled."
        except (TargetError, StepError) as exc:
            run.result_state, run.error = "FAILED", str(exc)
            run.state_message = str(exc).splitlines()[0] if str(exc) else "Run failed."
        except Exception as exc:  # the run's record must end even when the runner breaks
            log.error("run %s broke: %s", run.run_id, type(exc).__name__)
            run.life_cycle_state, run.end_time = "INTERNAL_ERROR", _now_ms()
            run.state_message = run.error = f"{type(exc).__name__}: {exc}"
            return
        else:
            run.exit_value = outcome.exit_value
            run.result_state, run.state_message = "SUCCESS", ""
        run.end_time = _now_ms()
        run.life_cycle_state = "TERMINATED"

    def _find(self, workspace: DatabricksHost, run_id: Any) -> tuple[Run, bool]:
        """The run with this id (or whose task has it) and whether the id is the task's."""
        try:
            wanted = int(run_id)
        except (TypeError, ValueError):
            raise invalid(f"run_id must be a number (got {run_id!r})") from None
        with self._lock:
            run = self._runs.get(wanted) or self._runs.get(wanted - 1)
        if run is None or run.workspace != workspace or (
                wanted == run.task_run_id and not run.by_task):
            raise not_found(f"Run {wanted} does not exist.")
        return run, wanted == run.task_run_id

    def get(self, workspace: DatabricksHost, run_id: Any, host: str) -> dict[str, Any]:
        run, is_task = self._find(workspace, run_id)
        answer = run.describe(host)
        if is_task:  # a task run described alone, as the API does for a task's run id
            answer = {**run.task(), "run_name": run.run_name, "run_type": "SUBMIT_RUN",
                      "run_page_url": answer["run_page_url"]}
        return answer

    def output(self, workspace: DatabricksHost, run_id: Any, host: str) -> dict[str, Any]:
        run, is_task = self._find(workspace, run_id)
        if run.by_task and not is_task:
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           "Retrieving the output of runs with multiple tasks is not "
                           "supported. Please retrieve the output of each individual task "
                           "run instead.")
        answer: dict[str, Any] = {"metadata": self.get(workspace, run_id, host)}
        if run.result_state == "SUCCESS":
            answer["notebook_output"] = {} if run.exit_value is None else {
                "result": run.exit_value, "truncated": False}
        if run.error is not None:
            answer["error"] = run.error
        return answer

    def cancel(self, workspace: DatabricksHost, run_id: Any) -> None:
        run, _ = self._find(workspace, run_id)
        run.cancelled.set()

    def close(self) -> None:
        """Cancel the runs still going and wait a bounded time for them to stop."""
        with self._lock:
            running = [run for run in self._runs.values() if run.thread is not None]
        for run in running:
            run.cancelled.set()
        for run in running:
            assert run.thread is not None
            run.thread.join(JOIN_SECONDS)

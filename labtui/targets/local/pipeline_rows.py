"""The rows of the sandbox's pipelines and their runs: the tables, the state a pipelines port
keeps in its process (the runs it executes), and reading a definition or a run from its row.

The layers of `LocalPipelines` build on this one: `run_records` reads what a run published,
`pipeline_execution` queues and executes runs, `pipelines` is the port itself.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from labtui.targets.errors import NotFound
from labtui.targets.local.pull_requests import create_tables
from labtui.targets.local.sandbox import LocalPort, Sandbox, with_latency
from labtui.targets.ports.pipelines import Pipeline, PipelineRun, RunState
from labtui.targets.resources import GitRepository

if TYPE_CHECKING:
    from labtui.targets.local.databricks import LocalDatabricks
    from labtui.targets.local.devops import LocalDevOps
    from labtui.targets.local.environments import LocalEnvironments
    from labtui.targets.local.variable_groups import LocalVariableGroups
    from labtui.targets.ports.containers import Containers

TABLES = (
    """CREATE TABLE IF NOT EXISTS pipelines (
        id INTEGER PRIMARY KEY,
        organization TEXT NOT NULL COLLATE NOCASE,
        project TEXT NOT NULL COLLATE NOCASE,
        name TEXT NOT NULL COLLATE NOCASE,
        repository TEXT NOT NULL,          -- the bare repository's path
        repository_name TEXT NOT NULL COLLATE NOCASE,
        yaml_path TEXT NOT NULL,
        created REAL NOT NULL,
        UNIQUE (organization, project, name)
    )""",
    """CREATE TABLE IF NOT EXISTS pipeline_runs (
        id INTEGER PRIMARY KEY,
        pipeline INTEGER NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        branch TEXT NOT NULL,
        commit_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        variables TEXT NOT NULL,           -- JSON: queue-time variables
        resources TEXT NOT NULL DEFAULT '{}',  -- JSON: alias → the pipeline resource's run
        state TEXT NOT NULL,
        stage TEXT NOT NULL DEFAULT '',
        waiting_for TEXT NOT NULL DEFAULT '',
        message TEXT NOT NULL DEFAULT '',
        owner TEXT NOT NULL DEFAULT '',    -- host:pid of the process running it
        cancel INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        finished REAL NOT NULL DEFAULT 0
    )""",
)

POLL_SECONDS = 0.1
FOLDER = "builds"
"""The runs' folders, under the sandbox (not named "pipelines": a run masks its secrets in its
log, and the pipeline environment's name is one of the vault's values)."""


def this_process() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"


def process_alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != os.uname().nodename or not pid.isdigit():
        return True  # another machine's process: it cannot be checked from here
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True



@dataclass
class Going:
    """A run this process executes: its thread, cancel event, and the event that parks it
    at an approval it waits on (the process is closing; the run is not over)."""

    thread: threading.Thread
    cancel: threading.Event = field(default_factory=threading.Event)
    park: threading.Event = field(default_factory=threading.Event)


@with_latency
class LocalPipelineRows(LocalPort):
    """What every layer of the local pipelines shares: the tables, the ports a run uses,
    the runs this process executes, and a definition or a run read from its row.

    Args:
        sandbox: the sandbox.
        devops, groups, environments, containers, databricks: the ports a run uses (read
            lazily: a Docker engine is only needed by a run that builds).
        background: start queued runs at once in a thread of this process (see
            `pipelines`); False keeps them queued until a `wait`.
        approval_timeout: seconds an approval waits when the environment's check does not say
            less; None uses the check's own timeout.
    """

    def __init__(self, sandbox: Sandbox, devops: Callable[[], LocalDevOps],
                 groups: Callable[[], LocalVariableGroups],
                 environments: Callable[[], LocalEnvironments],
                 containers: Callable[[], Containers],
                 databricks: Callable[[], LocalDatabricks], *,
                 background: bool = False) -> None:
        super().__init__(sandbox)
        self._devops, self._groups, self._environments = devops, groups, environments
        self._containers, self._databricks = containers, databricks
        self.background = background
        self.approval_timeout: float | None = None
        self._going: dict[int, Going] = {}
        self._lock = threading.Lock()
        create_tables(sandbox, TABLES)
        with sandbox.transaction() as conn:  # a sandbox made before runs had resources
            columns = {r["name"] for r in conn.execute("PRAGMA table_info(pipeline_runs)")}
            if "resources" not in columns:
                conn.execute("ALTER TABLE pipeline_runs ADD COLUMN resources TEXT NOT NULL "
                             "DEFAULT '{}'")

    def _pipeline(self, row: sqlite3.Row) -> Pipeline:
        repository = GitRepository(row["organization"], row["project"], row["repository_name"],
                                   row["repository"], Path(row["repository"]).as_uri())
        return Pipeline(repository, row["id"], row["name"], row["yaml_path"],
                        f"{repository.web_url}/_build?definitionId={row['id']}")

    def _pipeline_row(self, conn: sqlite3.Connection, pipeline: Pipeline) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM pipelines WHERE id = ?", (pipeline.id,)).fetchone()
        if row is None:
            raise NotFound(f"pipeline {pipeline.name} does not exist")
        return row

    def _run(self, row: sqlite3.Row, pipeline: Pipeline | None = None) -> PipelineRun:
        if pipeline is None:
            with self._sandbox.transaction() as conn:
                pipeline = self._pipeline(conn.execute(
                    "SELECT * FROM pipelines WHERE id = ?", (row["pipeline"],)).fetchone())
        return PipelineRun(pipeline, row["id"], row["branch"], row["commit_id"],
                           cast(RunState, row["state"]), row["stage"], row["waiting_for"],
                           f"{pipeline.repository.web_url}/_build/results?buildId={row['id']}")

    def _run_row(self, run_id: int) -> sqlite3.Row:
        rows = self._sandbox.query("SELECT * FROM pipeline_runs WHERE id = ?", (run_id,))
        if not rows:
            raise NotFound(f"pipeline run {run_id} does not exist")
        row = rows[0]
        if row["state"] == "running" and row["owner"] and not process_alive(row["owner"]) \
                and run_id not in self._going:
            self._finish(run_id, "failed", "the process running it ended before it finished "
                                           f"({row['owner']})")
            row = self._sandbox.query("SELECT * FROM pipeline_runs WHERE id = ?", (run_id,))[0]
        return row

    def folder(self, run: PipelineRun) -> Path:
        """The run's records folder (log.txt, timeline.json, tests.json …). Local only."""
        return self._sandbox.root / FOLDER / str(run.pipeline.id) / str(run.id) / "records"

    def _finish(self, run_id: int, state: str, message: str = "") -> None:
        with self._sandbox.transaction() as conn:
            conn.execute("UPDATE pipeline_runs SET state = ?, message = ?, waiting_for = '', "
                         "finished = ? WHERE id = ?", (state, message, time.time(), run_id))

    def _set(self, run_id: int, **values: str) -> None:
        with self._sandbox.transaction() as conn:
            for column, value in values.items():
                if column not in ("stage", "waiting_for"):
                    raise ValueError(column)
                conn.execute(f"UPDATE pipeline_runs SET {column} = ? WHERE id = ?",
                             (value, run_id))

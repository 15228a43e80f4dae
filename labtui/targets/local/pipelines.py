"""YAML pipelines of the sandbox's DevOps projects, and their runs, over the local runner.

A definition (repository + YAML path) and its runs are rows in `sandbox.db`. A run executes
the YAML committed at its commit: a clean clone of the bare repository, checked out at that
commit into the run's folder (`<sandbox>/builds/<pipeline>/<run>/sources`), run by
`labtui.targets.local.azpipelines` with the tasks of `pipeline_tasks` (Docker@2 builds go
through the Containers port, owner-labelled). Its records (log, timeline, test results,
coverage, artifacts) stay beside it in `records/`.

Where a run executes: queued runs are rows first. With `background` (the app, a process that
lives on) a run starts at once in a thread of the process that queued it. Without it
(headless: a process that ends with its step) a queued run waits in the ledger until someone
waits for it: `wait` starts it in its own process. Either way one process runs it (the claim
is a row update), and a run whose process died is ended as failed, saying so.

Runs are numbered from a random start per sandbox, as build ids are large project-wide
numbers in Azure DevOps: the images a run tags with `$(Build.BuildId)` do not meet another
workspace's on a shared Docker engine.

A push to a branch a definition's `trigger` includes queues a run (`pushed`, which the local
pull requests call when a completion merges into the target branch).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from labtui.targets.errors import Conflict, NotFound, Transient
from labtui.targets.local.pipeline_execution import LocalPipelineExecution
from labtui.targets.local.pipeline_rows import FOLDER, POLL_SECONDS
from labtui.targets.local.pipeline_sources import file_at
from labtui.targets.local.sandbox import with_latency
from labtui.targets.ports.pipelines import (
    FINISHED_RUN_STATES,
    Pipeline,
    PipelineRun,
    Pipelines,
)
from labtui.targets.resources import GitRepository


@with_latency
class LocalPipelines(LocalPipelineExecution, Pipelines):
    """Pipelines and runs of the sandbox's DevOps projects (`LocalPipelineRows` takes the
    arguments). Its layers, one module each: `pipeline_rows` (tables and rows),
    `run_records` (what a run published), `pipeline_execution` (queueing and executing)."""

    # --- definitions -------------------------------------------------------------------------

    def create(self, repository: GitRepository, name: str, yaml_path: str) -> Pipeline:
        path = yaml_path.strip().lstrip("/")
        with self._sandbox.transaction() as conn:
            row = conn.execute("SELECT * FROM pipelines WHERE organization = ? AND project = ? "
                               "AND name = ?", (repository.organization, repository.project,
                                                name)).fetchone()
            if row is not None:
                if row["repository"] != repository.clone_url or row["yaml_path"] != path:
                    raise Conflict(f"pipeline {name} exists for {row['repository_name']}:"
                                   f"{row['yaml_path']}, not {repository.name}:{path}")
                return self._pipeline(row)
            if file_at(repository, "HEAD", path) is None:
                raise NotFound(f"{path} does not exist on the default branch of repository "
                               f"{repository.name}")
            cursor = conn.execute(
                "INSERT INTO pipelines (organization, project, name, repository, "
                "repository_name, yaml_path, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (repository.organization, repository.project, name, repository.clone_url,
                 repository.name, path, time.time()))
            return self._pipeline(conn.execute("SELECT * FROM pipelines WHERE id = ?",
                                               (cursor.lastrowid,)).fetchone())

    def get(self, organization: str, project: str, name: str) -> Pipeline:
        rows = self._sandbox.query("SELECT * FROM pipelines WHERE organization = ? AND "
                                   "project = ? AND name = ?", (organization, project, name))
        if not rows:
            raise NotFound(f"pipeline {name} does not exist in project {organization}/{project}")
        return self._pipeline(rows[0])

    def pipelines(self, organization: str, project: str) -> list[Pipeline]:
        self._devops().get_project(organization, project)
        rows = self._sandbox.query("SELECT * FROM pipelines WHERE organization = ? AND "
                                   "project = ? ORDER BY name", (organization, project))
        return [self._pipeline(row) for row in rows]

    def delete(self, pipeline: Pipeline) -> bool:
        rows = self._sandbox.query("SELECT id FROM pipeline_runs WHERE pipeline = ?",
                                   (pipeline.id,))
        for row in rows:
            self._stop(row["id"])
        with self._sandbox.transaction() as conn:
            deleted = conn.execute("DELETE FROM pipelines WHERE id = ?",
                                   (pipeline.id,)).rowcount
        self._sandbox.remove_folder(FOLDER, str(pipeline.id))
        return bool(deleted)

    # --- runs --------------------------------------------------------------------------------
    def run(self, pipeline: Pipeline, run_id: int) -> PipelineRun:
        row = self._run_row(run_id)
        if row["pipeline"] != pipeline.id:
            raise NotFound(f"pipeline run {run_id} is not a run of {pipeline.name}")
        return self._run(row, pipeline)

    def runs(self, pipeline: Pipeline) -> list[PipelineRun]:
        with self._sandbox.transaction() as conn:
            self._pipeline_row(conn, pipeline)
        rows = self._sandbox.query("SELECT id FROM pipeline_runs WHERE pipeline = ? "
                                   "ORDER BY created DESC, id DESC", (pipeline.id,))
        return [self._run(self._run_row(row["id"]), pipeline) for row in rows]

    def reason(self, run: PipelineRun) -> str:
        """Why the run was queued: Manual, or IndividualCI (a push the trigger includes).
        Local only (Azure has it on the build)."""
        return str(self._run_row(run.id)["reason"])

    def message(self, run: PipelineRun) -> str:
        """Why a run ended as it did, when the run did not get to say it in its log (its
        file did not load, its process died). Local only."""
        return str(self._run_row(run.id)["message"])

    def wait(self, run: PipelineRun, timeout: float, *,
             on_log: Callable[[str], None] | None = None) -> PipelineRun:
        deadline = time.monotonic() + timeout
        self._start(run.id)
        log = self.folder(run) / "log.txt"
        offset = 0
        while True:
            row = self._run_row(run.id)
            if on_log is not None and log.exists():
                with log.open("rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
                complete = chunk[:chunk.rfind(b"\n") + 1]
                offset += len(complete)
                for line in complete.decode("utf-8", "replace").splitlines():
                    on_log(line)
            if row["state"] in FINISHED_RUN_STATES or (row["waiting_for"]
                                                        and self._still_waiting(run)):
                if row["state"] in FINISHED_RUN_STATES and run.id in self._going:
                    self._going[run.id].thread.join(timeout=5)
                return self._run(row, run.pipeline)
            if time.monotonic() > deadline:
                raise Transient(f"pipeline run {run.id} of {run.pipeline.name} is still "
                                f"{row['state']} after {timeout:g} s")
            time.sleep(POLL_SECONDS)

    def _still_waiting(self, run: PipelineRun) -> bool:
        """Whether an approval of the run is still pending (just decided, the run's gate has
        not cleared what it waits for yet: a follower keeps following)."""
        repository = run.pipeline.repository
        return any(approval.run_id == run.id for approval in self._environments().approvals(
            repository.organization, repository.project))

    def cancel(self, run: PipelineRun) -> bool:
        try:
            row = self._run_row(run.id)
        except NotFound:
            return False
        if row["state"] in FINISHED_RUN_STATES:
            return False
        with self._sandbox.transaction() as conn:
            conn.execute("UPDATE pipeline_runs SET cancel = 1 WHERE id = ?", (run.id,))
            if row["state"] == "queued":
                conn.execute("UPDATE pipeline_runs SET state = 'canceled', finished = ?, "
                             "message = 'canceled before it started' WHERE id = ? AND "
                             "state = 'queued'", (time.time(), run.id))
            elif not row["owner"]:  # parked at an approval: no process to tell
                conn.execute("UPDATE pipeline_runs SET state = 'canceled', finished = ?, "
                             "waiting_for = '', message = 'canceled while it waited for an "
                             "approval' WHERE id = ? AND owner = ''", (time.time(), run.id))
        going = self._going.get(run.id)
        if going is not None:
            going.cancel.set()
        return True

    def _stop(self, run_id: int) -> None:
        """Cancel a run and wait for this process's thread of it to end."""
        rows = self._sandbox.query("SELECT * FROM pipeline_runs WHERE id = ?", (run_id,))
        if rows and rows[0]["state"] not in FINISHED_RUN_STATES:
            with self._sandbox.transaction() as conn:
                conn.execute("UPDATE pipeline_runs SET cancel = 1 WHERE id = ?", (run_id,))
                conn.execute("UPDATE pipeline_runs SET state = 'canceled', finished = ? "
                             "WHERE id = ? AND state = 'queued'", (time.time(), run_id))
        going = self._going.get(run_id)
        if going is not None:
            going.cancel.set()
            going.thread.join()

    def start_queued(self) -> list[int]:
        """Start every queued run in this process (the ones no process has claimed), and
        resume the ones parked at an approval; their ids."""
        rows = self._sandbox.query("SELECT id FROM pipeline_runs WHERE state = 'queued' OR "
                                   "(state = 'running' AND owner = '') ORDER BY created")
        for row in rows:
            self._start(row["id"])
        return [row["id"] for row in rows]

    def close(self) -> None:
        """Stop the runs this process executes and wait for their threads: one waiting for
        an approval is parked (it goes on waiting with no process, and the next `wait` on
        it resumes it, as an Azure DevOps run outlives the command that queued it); the
        others are canceled."""
        for run_id in list(self._going):
            going = self._going.get(run_id)
            rows = self._sandbox.query("SELECT waiting_for FROM pipeline_runs WHERE id = ?",
                                       (run_id,))
            if going is not None and rows and rows[0]["waiting_for"]:
                going.park.set()
                going.thread.join(timeout=30)
                if not going.thread.is_alive():
                    continue
            self._stop(run_id)

    def forget(self, organization: str, project: str, repository: str | None = None) -> None:
        """Drop the pipelines of a deleted project (or repository), with their runs."""
        rows = self._sandbox.query(
            "SELECT id FROM pipelines WHERE organization = ? AND project = ? AND "
            "(? IS NULL OR repository_name = ?)", (organization, project, repository,
                                                   repository))
        for row in rows:
            for run in self._sandbox.query("SELECT id FROM pipeline_runs WHERE pipeline = ?",
                                           (row["id"],)):
                self._stop(run["id"])
            with self._sandbox.transaction() as conn:
                conn.execute("DELETE FROM pipelines WHERE id = ?", (row["id"],))
            self._sandbox.remove_folder(FOLDER, str(row["id"]))

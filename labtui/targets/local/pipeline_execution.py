"""Queueing and executing the local pipelines' runs: a run claimed by one process, run in a
thread of it by the local runner (`azpipelines`) from a clean clone at its commit, its stage
and approvals written to its row as it goes; and the runs a push or a finished run triggers.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from labtui.targets.errors import NotFound, TargetError
from labtui.targets.local.pipeline_rows import FOLDER, POLL_SECONDS, Going, this_process
from labtui.targets.local.pipeline_sources import bare, default_branch, file_at, git, head
from labtui.targets.local.run_records import LocalRunRecords
from labtui.targets.local.sandbox import with_latency
from labtui.targets.ports.pipelines import Approval, Pipeline, PipelineRun
from labtui.targets.resources import GitRepository

if TYPE_CHECKING:
    from labtui.targets.local.azpipelines import (
        GateDecision,
        GateRequest,
        ResourceRun,
    )
    from labtui.targets.local.azpipelines import Pipeline as LoadedPipeline
    from labtui.targets.local.azpipelines.gates import Gate
    from labtui.targets.local.databricks_api.server import DatabricksApiServer

FIRST_RUN_ID_RANGE = (100_000, 9_000_000)
RUN_LABEL = "labtui.pipeline-run"
PIPELINE_LABEL = "labtui.pipeline"
RESULTS = {"succeeded": "succeeded", "partiallySucceeded": "succeeded", "failed": "failed",
           "canceled": "canceled"}


@with_latency
class LocalPipelineExecution(LocalRunRecords):
    """Runs queued, started, executed and finished; the runs they trigger."""

    def queue(self, pipeline: Pipeline, *, branch: str = "main",
              variables: Mapping[str, str] | None = None) -> PipelineRun:
        return self._queue(pipeline, branch, variables or {}, "Manual")

    def _queue(self, pipeline: Pipeline, branch: str, variables: Mapping[str, str],
               reason: str, commit: str = "",
               resources: Mapping[str, ResourceRun] | None = None) -> PipelineRun:
        branch = branch.removeprefix("refs/heads/")
        with self._sandbox.transaction() as conn:
            self._pipeline_row(conn, pipeline)
        commit = commit or head(pipeline.repository, branch)
        with self._sandbox.transaction() as conn:
            first = conn.execute("SELECT count(*) FROM pipeline_runs").fetchone()[0] == 0 and \
                conn.execute("SELECT coalesce(max(id), 0) FROM pipeline_runs").fetchone()[0] == 0
            run_id = None
            if first:
                run_id = secrets.randbelow(FIRST_RUN_ID_RANGE[1] - FIRST_RUN_ID_RANGE[0]) \
                    + FIRST_RUN_ID_RANGE[0]
            cursor = conn.execute(
                "INSERT INTO pipeline_runs (id, pipeline, branch, commit_id, reason, variables, "
                "resources, state, created) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
                (run_id, pipeline.id, branch, commit, reason, json.dumps(dict(variables)),
                 json.dumps({alias: asdict(found) for alias, found in (resources or {}).items()}),
                 time.time()))
            row = conn.execute("SELECT * FROM pipeline_runs WHERE id = ?",
                               (cursor.lastrowid,)).fetchone()
        run = self._run(row, pipeline)
        if self.background:
            self._start(run.id)
        return run

    def pushed(self, repository: GitRepository, branch: str, commit: str) -> list[PipelineRun]:
        """A push moved `branch` of `repository` to `commit`: queue a run of each pipeline of
        the repository whose YAML at that commit has a trigger including the branch (reason
        IndividualCI, as Azure's CI trigger). A file that does not load queues nothing here:
        Azure reports it on the pipeline, and a manual run shows the error."""
        from labtui.targets.local.azpipelines import PipelineError, load_text
        from labtui.targets.local.pipeline_tasks import host_registry

        rows = self._sandbox.query("SELECT * FROM pipelines WHERE repository = ?",
                                   (repository.clone_url,))
        queued = []
        for row in rows:
            pipeline = self._pipeline(row)
            text = file_at(repository, commit, pipeline.yaml_path)
            if text is None:
                continue
            try:
                loaded = load_text(text, pipeline.yaml_path, tasks=host_registry(None))
            except PipelineError:
                continue
            if loaded.trigger.matches(branch):
                queued.append(self._queue(pipeline, branch, {}, "IndividualCI", commit))
        return queued

    def _start(self, run_id: int) -> None:
        """Claim a queued run and execute it in a thread of this process; nothing when it is
        claimed already (here or by another process) or finished."""
        with self._lock:
            if run_id in self._going:
                return
            with self._sandbox.transaction() as conn:
                # Queued, or parked at an approval (running, no process: see `close`).
                claimed = conn.execute(
                    "UPDATE pipeline_runs SET state = 'running', owner = ? WHERE id = ? AND "
                    "(state = 'queued' OR (state = 'running' AND owner = ''))",
                    (this_process(), run_id)).rowcount
            if not claimed:
                return
            going = Going(threading.Thread(target=self._execute, args=(run_id,),
                                            name=f"pipeline-run-{run_id}", daemon=True))
            self._going[run_id] = going
        going.thread.start()

    def _execute(self, run_id: int) -> None:
        from labtui.targets.local.azpipelines import Parked

        going = self._going[run_id]
        try:
            state, message = self._execute_run(run_id, going.cancel, going.park)
        except Parked:
            with self._sandbox.transaction() as conn:  # no process: the next wait resumes it
                conn.execute("UPDATE pipeline_runs SET owner = '' WHERE id = ?", (run_id,))
            with self._lock:
                self._going.pop(run_id, None)
            return
        except (TargetError, OSError) as exc:
            state, message = "failed", str(exc)
        try:
            self._finish(run_id, state, message)
            if state == "succeeded":
                self.completed(run_id)
        finally:
            with self._lock:
                self._going.pop(run_id, None)

    def completed(self, run_id: int) -> list[PipelineRun]:
        """A run finished green: queue a run (reason ResourceTrigger) of each pipeline of its
        project whose YAML at its repository's default branch head names the run's pipeline
        as a `resources: pipelines:` source with a trigger including the run's branch; the
        finished run is that resource's run (`$(resources.pipeline.<alias>.runID)`)."""
        from labtui.targets.local.azpipelines import PipelineError, ResourceRun, load_text
        from labtui.targets.local.pipeline_tasks import host_registry

        run = self._run(self._run_row(run_id))
        source = run.pipeline
        rows = self._sandbox.query("SELECT * FROM pipelines WHERE organization = ? AND "
                                   "project = ? AND id != ?", (source.repository.organization,
                                                               source.repository.project,
                                                               source.id))
        queued = []
        for row in rows:
            pipeline = self._pipeline(row)
            try:
                branch = default_branch(pipeline.repository)
            except NotFound:
                continue  # its repository was deleted: nothing of it runs
            if branch is None:
                continue
            text = file_at(pipeline.repository, f"refs/heads/{branch}", pipeline.yaml_path)
            if text is None:
                continue
            try:
                loaded = load_text(text, pipeline.yaml_path, tasks=host_registry(None))
            except PipelineError:
                continue  # Azure reports it on the pipeline; a manual run shows the error
            triggered = loaded.triggers(source.name, run.branch)
            if triggered:
                found = ResourceRun(run.id, str(run.id), source.id, source.name, run.branch,
                                    run.commit)
                queued.append(self._queue(pipeline, branch, {}, "ResourceTrigger",
                                          resources={r.alias: found for r in triggered}))
        return queued

    def _resources(self, loaded: LoadedPipeline, row: sqlite3.Row) -> dict[str, ResourceRun]:
        """The pipeline resources' runs a run consumes: the ones it was queued with (the run
        that triggered it), else the latest green run of the source on the resource's branch
        (any branch when it names none), as a manual run in Azure takes."""
        from labtui.targets.local.azpipelines import ResourceRun

        given = {alias: ResourceRun(**found)
                 for alias, found in json.loads(row["resources"] or "{}").items()}
        pipeline = self._pipeline(self._sandbox.query(
            "SELECT * FROM pipelines WHERE id = ?", (row["pipeline"],))[0])
        for resource in loaded.resources:
            if resource.alias in given:
                continue
            branch = resource.branch.removeprefix("refs/heads/")
            latest = self._sandbox.query(
                "SELECT r.id, r.branch, r.commit_id, p.id AS pid, p.name FROM pipeline_runs r "
                "JOIN pipelines p ON p.id = r.pipeline WHERE p.organization = ? AND "
                "p.project = ? AND p.name = ? AND r.state = 'succeeded' AND "
                "(? = '' OR r.branch = ?) ORDER BY r.finished DESC, r.id DESC LIMIT 1",
                (pipeline.repository.organization, pipeline.repository.project,
                 resource.source, branch, branch))
            if latest:
                found = latest[0]
                given[resource.alias] = ResourceRun(found["id"], str(found["id"]), found["pid"],
                                                    found["name"], found["branch"],
                                                    found["commit_id"])
        return given

    def _execute_run(self, run_id: int, cancel: threading.Event,
                     park: threading.Event) -> tuple[str, str]:
        from labtui.targets.local.azpipelines import PipelineError, Runner, load
        from labtui.targets.local.azpipelines.records import Event, TimelineRecord
        from labtui.targets.local.pipeline_tasks import host_registry

        row = self._run_row(run_id)
        run = self._run(row, None)
        pipeline = run.pipeline
        folder = self.folder(run).parent
        records = self.folder(run)
        # A run parked at an approval goes on from its sources and records as they are.
        resume = [TimelineRecord.from_saved(item)
                  for item in self._timeline(run)] if row["waiting_for"] else []
        if not resume:
            if folder.exists():
                shutil.rmtree(folder)
            sources = self._sandbox.folder(FOLDER, str(pipeline.id), str(run_id), "sources")
            git("clone", "--quiet", "--no-checkout", str(bare(pipeline.repository)),
                 str(sources))
            git("checkout", "--quiet", "--detach", run.commit, cwd=sources)
        else:
            sources = folder / "sources"
        tasks = host_registry(self._containers, labels={
            RUN_LABEL: str(run_id),
            PIPELINE_LABEL: f"{pipeline.repository.project}/{pipeline.name}"})
        branch = f"refs/heads/{run.branch}"
        try:
            loaded = load(sources / pipeline.yaml_path, tasks=tasks, variables={
                "Build.SourceBranch": branch, "Build.SourceBranchName": run.branch,
                "Build.Reason": row["reason"]})
        except PipelineError as error:
            records.mkdir(parents=True, exist_ok=True)
            (records / "log.txt").write_text(f"##[error]{error}\n", encoding="utf-8")
            return "failed", str(error)

        def groups(name: str) -> Mapping[str, tuple[str, bool]]:
            try:
                found = self._groups().values(pipeline.repository.organization,
                                              pipeline.repository.project, name)
            except NotFound as exc:
                raise LookupError(str(exc)) from None
            return {variable.name: (variable.value, variable.secret)
                    for variable in found.values()}

        def listener(event: Event) -> None:
            if isinstance(event, TimelineRecord) and event.type == "Stage" \
                    and event.state == "inProgress":
                self._set(run_id, stage=event.name)

        watcher = threading.Thread(target=self._watch_cancel, args=(run_id, cancel),
                                   daemon=True, name=f"pipeline-cancel-{run_id}")
        watcher.start()
        server = self._serve()
        try:
            runner = Runner(
                loaded, sources=sources, folder=records,
                variables=json.loads(row["variables"]), groups=groups,
                gate=self._gate(run_id, pipeline, park), tasks=tasks,
                branch=branch, commit=run.commit, build_id=run_id, reason=row["reason"],
                listener=listener, cancel=cancel, environment=self._agent_environment(),
                resources=self._resources(loaded, row), resume=resume)
            try:
                result = runner.run()
            except PipelineError as error:
                with (records / "log.txt").open("a", encoding="utf-8") as handle:
                    handle.write(f"##[error]{error}\n")
                return "failed", str(error)
        finally:
            if server is not None:
                server.close()
            cancel.set()  # ends the watcher
            watcher.join()
        return RESULTS.get(result.result, "failed"), ""

    def _gate(self, run_id: int, pipeline: Pipeline, park: threading.Event) -> Gate:
        """The environments' approval checks, as an agent waits on them: the run shows what
        it waits for while a person decides."""
        from labtui.targets.local.releases import EnvironmentGate

        def waiting(approval: Approval) -> None:
            self._set(run_id, waiting_for=approval.environment)

        gate = EnvironmentGate(self._environments(), pipeline.repository.organization,
                               pipeline.repository.project,
                               timeout_seconds=self.approval_timeout, on_waiting=waiting,
                               park=park)

        def decide(request: GateRequest) -> GateDecision:
            decision = gate(request)  # Parked: it still waits, with no process
            self._set(run_id, waiting_for="")
            return decision

        return decide

    def _watch_cancel(self, run_id: int, cancel: threading.Event) -> None:
        """Another process may cancel the run (a row flag): pass it to the runner."""
        while not cancel.wait(POLL_SECONDS * 2):
            rows = self._sandbox.query("SELECT cancel FROM pipeline_runs WHERE id = ?",
                                       (run_id,))
            if not rows or rows[0]["cancel"]:
                cancel.set()

    def _agent_environment(self) -> dict[str, str]:
        """What every process of a run starts with, as on an agent machine: a few variables
        of this one, the Python labtui runs with first on PATH (an agent's
        UsePythonVersion), and the sandbox's Databricks host (an agent's DATABRICKS_HOST)."""
        from labtui.targets.local.databricks import api_url

        keep = ("HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER", "SHELL", "DOCKER_HOST")
        environment = {name: os.environ[name] for name in keep if name in os.environ}
        environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                               os.environ.get("PATH", os.defpath)])
        environment["DATABRICKS_HOST"] = api_url(self._databricks().api_port)
        environment["LABTUI_WORKSPACE"] = self._sandbox.workspace_id
        return environment

    def _serve(self) -> DatabricksApiServer | None:
        """Serve the sandbox's Databricks REST API while the run goes, unless a labtui serves
        it already (the app, `labtui sandbox serve`)."""
        from labtui.targets.local.databricks_api import server

        try:
            return server.DatabricksApiServer(self._databricks()).start()
        except server.AlreadyServed:
            return None

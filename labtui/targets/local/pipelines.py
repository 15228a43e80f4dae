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

import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from labtui.targets.errors import Conflict, NotFound, TargetError, Transient
from labtui.targets.local.pull_requests import create_tables
from labtui.targets.local.sandbox import LocalPort, Sandbox, with_latency
from labtui.targets.ports.pipelines import (
    FINISHED_RUN_STATES,
    Approval,
    Artifact,
    Coverage,
    Pipeline,
    PipelineRun,
    Pipelines,
    PublishedTest,
    RunState,
    TimelineRecord,
    TimelineState,
    TimelineType,
)
from labtui.targets.resources import GitRepository

if TYPE_CHECKING:
    from labtui.targets.local.azpipelines import (
        GateDecision,
        GateRequest,
        ResourceRun,
    )
    from labtui.targets.local.azpipelines import Pipeline as LoadedPipeline
    from labtui.targets.local.azpipelines.gates import Gate
    from labtui.targets.local.databricks import LocalDatabricks
    from labtui.targets.local.databricks_api.server import DatabricksApiServer
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
FIRST_RUN_ID_RANGE = (100_000, 9_000_000)
RUN_LABEL = "labtui.pipeline-run"
PIPELINE_LABEL = "labtui.pipeline"
OUTCOMES: dict[str, Literal["passed", "failed", "skipped"]] = {
    "passed": "passed", "failed": "failed", "skipped": "skipped"}
RESULTS = {"succeeded": "succeeded", "partiallySucceeded": "succeeded", "failed": "failed",
           "canceled": "canceled"}


def _me() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"


def _alive(owner: str) -> bool:
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


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["git failed"])[-1]
        raise TargetError(f"git {args[0]}: {last}")
    return done.stdout


def _bare(repository: GitRepository) -> Path:
    path = Path(repository.clone_url)
    if not (path / "HEAD").exists():
        raise NotFound(f"repository {repository.name} does not exist")
    return path


def _head(repository: GitRepository, branch: str) -> str:
    done = subprocess.run(["git", "--git-dir", str(_bare(repository)), "rev-parse", "--verify",
                           "--quiet", f"refs/heads/{branch}^{{commit}}"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise NotFound(f"branch {branch} does not exist in repository {repository.name}")
    return done.stdout.strip()


def _default_branch(repository: GitRepository) -> str | None:
    """The bare repository's default branch (what its HEAD names), None when it has none."""
    done = subprocess.run(["git", "--git-dir", str(_bare(repository)), "symbolic-ref",
                           "--quiet", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or None if done.returncode == 0 else None


def _file_at(repository: GitRepository, ref: str, path: str) -> str | None:
    done = subprocess.run(["git", "--git-dir", str(_bare(repository)), "show",
                           f"{ref}:{path}"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


@dataclass
class _Going:
    """A run this process executes: its thread, cancel event, and the event that parks it
    at an approval it waits on (the process is closing; the run is not over)."""

    thread: threading.Thread
    cancel: threading.Event = field(default_factory=threading.Event)
    park: threading.Event = field(default_factory=threading.Event)


@with_latency
class LocalPipelines(LocalPort, Pipelines):
    """Pipelines and runs of the sandbox's DevOps projects.

    Args:
        sandbox: the sandbox.
        devops, groups, environments, containers, databricks: the ports a run uses (read
            lazily: a Docker engine is only needed by a run that builds).
        background: start queued runs at once in a thread of this process (see the module's
            docstring); False keeps them queued until a `wait`.
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
        self._going: dict[int, _Going] = {}
        self._lock = threading.Lock()
        create_tables(sandbox, TABLES)
        with sandbox.transaction() as conn:  # a sandbox made before runs had resources
            columns = {r["name"] for r in conn.execute("PRAGMA table_info(pipeline_runs)")}
            if "resources" not in columns:
                conn.execute("ALTER TABLE pipeline_runs ADD COLUMN resources TEXT NOT NULL "
                             "DEFAULT '{}'")

    # --- definitions -------------------------------------------------------------------------

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
            if _file_at(repository, "HEAD", path) is None:
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
        if row["state"] == "running" and row["owner"] and not _alive(row["owner"]) \
                and run_id not in self._going:
            self._finish(run_id, "failed", "the process running it ended before it finished "
                                           f"({row['owner']})")
            row = self._sandbox.query("SELECT * FROM pipeline_runs WHERE id = ?", (run_id,))[0]
        return row

    def queue(self, pipeline: Pipeline, *, branch: str = "main",
              variables: Mapping[str, str] | None = None) -> PipelineRun:
        return self._queue(pipeline, branch, variables or {}, "Manual")

    def _queue(self, pipeline: Pipeline, branch: str, variables: Mapping[str, str],
               reason: str, commit: str = "",
               resources: Mapping[str, ResourceRun] | None = None) -> PipelineRun:
        branch = branch.removeprefix("refs/heads/")
        with self._sandbox.transaction() as conn:
            self._pipeline_row(conn, pipeline)
        commit = commit or _head(pipeline.repository, branch)
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
            text = _file_at(repository, commit, pipeline.yaml_path)
            if text is None:
                continue
            try:
                loaded = load_text(text, pipeline.yaml_path, tasks=host_registry(None))
            except PipelineError:
                continue
            if loaded.trigger.matches(branch):
                queued.append(self._queue(pipeline, branch, {}, "IndividualCI", commit))
        return queued

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

    def folder(self, run: PipelineRun) -> Path:
        """The run's records folder (log.txt, timeline.json, tests.json …). Local only."""
        return self._sandbox.root / FOLDER / str(run.pipeline.id) / str(run.id) / "records"

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

    # --- what a run published ------------------------------------------------------------------

    def _records(self, run: PipelineRun, name: str) -> object:
        self._run_row(run.id)
        path = self.folder(run) / name
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def logs(self, run: PipelineRun) -> list[str]:
        self._run_row(run.id)
        path = self.folder(run) / "log.txt"
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    def _timeline(self, run: PipelineRun) -> list[dict[str, object]]:
        try:
            found = self._records(run, "timeline.json")
        except ValueError:  # read between two writes of the runner: as it was a moment ago
            return []
        return cast(list[dict[str, object]], found) if isinstance(found, list) else []

    def timeline(self, run: PipelineRun) -> list[TimelineRecord]:
        records = []
        for item in self._timeline(run):
            records.append(TimelineRecord(
                str(item["id"]), cast(TimelineType, item["type"]), str(item["name"]),
                str(item.get("display_name", "")), str(item.get("parent", "")),
                int(cast(int, item.get("order", 0))),
                cast(TimelineState, item.get("state", "pending")), str(item.get("result", "")),
                float(cast(float, item.get("started", 0.0))),
                float(cast(float, item.get("finished", 0.0))),
                tuple(str(e) for e in cast(list[object], item.get("errors", []))),
                bool(item.get("log"))))
        return sorted(records, key=lambda record: record.order)

    def step_log(self, run: PipelineRun, record_id: str) -> list[str]:
        item = next((i for i in self._timeline(run) if i.get("id") == record_id), None)
        if item is None:
            raise NotFound(f"pipeline run {run.id} of {run.pipeline.name} has no timeline "
                           f"record {record_id!r}")
        path = self.folder(run) / str(item.get("log") or "")
        if not item.get("log") or not path.is_file():
            return []
        return path.read_text(encoding="utf-8", errors="replace").splitlines()

    def test_results(self, run: PipelineRun) -> list[PublishedTest]:
        found = self._records(run, "tests.json") or []
        tests = []
        for test_run in cast(list[dict[str, object]], found):
            for case in cast(list[dict[str, object]], test_run.get("cases", [])):
                name = str(case.get("name", ""))
                classname = str(case.get("classname", ""))
                outcome = OUTCOMES.get(str(case.get("outcome", "")), "failed")
                tests.append(PublishedTest(
                    f"{classname}.{name}" if classname else name, outcome,
                    float(cast(float, case.get("duration", 0.0))), str(case.get("message", ""))))
        return tests

    def coverage(self, run: PipelineRun) -> Coverage | None:
        found = cast(list[dict[str, object]], self._records(run, "coverage.json") or [])
        if not found:
            return None
        first = found[0]
        files = cast(dict[str, float], first.get("files", {}))
        return Coverage(float(cast(float, first.get("line_rate", 0.0))), dict(files))

    def artifacts(self, run: PipelineRun) -> list[Artifact]:
        found = cast(dict[str, int], self._records(run, "artifacts.json") or {})
        folder = self.folder(run) / "artifacts"
        return [Artifact(name, int(size), (folder / name).as_uri())
                for name, size in sorted(found.items())]

    def download_artifact(self, run: PipelineRun, name: str, destination: str) -> None:
        if name not in {artifact.name for artifact in self.artifacts(run)}:
            raise NotFound(f"pipeline run {run.id} published no artifact {name!r}")
        shutil.copytree(self.folder(run) / "artifacts" / name, Path(destination),
                        dirs_exist_ok=True)

    # --- executing ---------------------------------------------------------------------------

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
                    (_me(), run_id)).rowcount
            if not claimed:
                return
            going = _Going(threading.Thread(target=self._execute, args=(run_id,),
                                            name=f"pipeline-run-{run_id}", daemon=True))
            self._going[run_id] = going
        going.thread.start()

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
                branch = _default_branch(pipeline.repository)
            except NotFound:
                continue  # its repository was deleted: nothing of it runs
            if branch is None:
                continue
            text = _file_at(pipeline.repository, f"refs/heads/{branch}", pipeline.yaml_path)
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
            _git("clone", "--quiet", "--no-checkout", str(_bare(pipeline.repository)),
                 str(sources))
            _git("checkout", "--quiet", "--detach", run.commit, cwd=sources)
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

"""Run a loaded pipeline on this machine, as an Azure Pipelines agent would.

Stages run in dependency order (by default each waits for the one before it), a stage's jobs
one after another in dependency order, a job's steps in order (steprun.py runs each). Each
stage, job and step has a condition (by default `succeeded()`); a skipped one is recorded as
skipped. Variables are scoped pipeline → stage → job, groups come from the host, and the
predefined ones (Build.*, System.*, Agent.*, Pipeline.Workspace) are set. Deployment jobs ask
the host's gate first. Results roll up from steps to jobs, stages and the run."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from labtui.targets.local.azpipelines.builtin_tasks import builtin_registry
from labtui.targets.local.azpipelines.errors import ExpressionError, PipelineError
from labtui.targets.local.azpipelines.expressions import Context, evaluate, parse, to_bool
from labtui.targets.local.azpipelines.gates import Gate, GateDecision, GateRequest
from labtui.targets.local.azpipelines.macros import Masker, Variables
from labtui.targets.local.azpipelines.model import (
    Condition,
    Job,
    Pipeline,
    Place,
    Stage,
    Step,
    VariableSpec,
)
from labtui.targets.local.azpipelines.records import Listener, RunRecords, TimelineRecord
from labtui.targets.local.azpipelines.steprun import (
    CANCELED,
    FAILED,
    GOOD,
    SKIPPED,
    SUCCEEDED,
    WITH_ISSUES,
    Agent,
    JobState,
    StepRun,
)
from labtui.targets.local.azpipelines.tasks import TaskRegistry

DEFAULT_CONDITION = Condition("succeeded()", parse("succeeded()"), Place(0, 0))
DEFAULT_JOB_TIMEOUT_MINUTES = 60.0
BASE_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER", "SHELL")

GroupResolver = Callable[[str], Mapping[str, tuple[str, bool]]]


@dataclass(frozen=True)
class ResourceRun:
    """The run of a pipeline resource this run consumes (the one that triggered it, or the
    latest of its branch): what `resources.pipeline.<alias>.*` variables say."""

    run_id: int
    run_name: str
    pipeline_id: int
    pipeline_name: str
    branch: str
    commit: str

    def variables(self, alias: str) -> dict[str, str]:
        prefix = f"resources.pipeline.{alias}."
        branch = self.branch if self.branch.startswith("refs/") else f"refs/heads/{self.branch}"
        return {prefix + "runID": str(self.run_id), prefix + "runName": self.run_name,
                prefix + "pipelineID": str(self.pipeline_id),
                prefix + "pipelineName": self.pipeline_name, prefix + "sourceBranch": branch,
                prefix + "sourceCommit": self.commit, prefix + "requestedFor": "labtui"}


@dataclass(frozen=True)
class RunResult:
    """How a run ended: succeeded, partiallySucceeded (something succeeded with issues),
    failed or canceled; and each stage's result."""

    result: str
    stages: dict[str, str]
    records: RunRecords

    @property
    def ok(self) -> bool:
        return self.result in ("succeeded", "partiallySucceeded")


def order(items: Sequence[Stage | Job]) -> list[Stage | Job]:
    """File order, each item after what it depends on (the loader refused loops)."""
    done: list[Stage | Job] = []
    names: set[str] = set()
    pending: list[Stage | Job] = list(items)
    while pending:
        for item in pending:
            if all(dep.lower() in names for dep in item.depends_on):
                done.append(item)
                names.add(item.name.lower())
                pending.remove(item)
                break
    return done


def roll_up(results: Sequence[str], canceled: bool) -> str:
    """A stage's result from its jobs' (or a run's from its stages')."""
    if FAILED in results:
        return FAILED
    if CANCELED in results or (canceled and SKIPPED in results):
        return CANCELED
    if all(result == SKIPPED for result in results):
        return SKIPPED
    return WITH_ISSUES if WITH_ISSUES in results else SUCCEEDED


class Runner:
    """Runs `pipeline` once.

    Args:
        pipeline: what `load` returned.
        sources: the checked-out repository (Build.SourcesDirectory, the scripts' folder).
        folder: where the run keeps its records (and its work folders).
        variables: variables set when the run was queued or in the pipeline's settings;
            the YAML's own variables of the same names win, as in Azure.
        secrets: secret variables (masked, never in a step's environment unless mapped).
        groups: resolves `- group: NAME` to name → (value, is_secret).
        gate: asked before each deployment job (see gates.ApprovalGate).
        tasks: the tasks steps may use (the registry the pipeline was loaded with).
        branch, commit, build_id, reason: what the predefined Build.* variables say.
        listener: hears every timeline change and log line.
        cancel: set it (from another thread) to cancel the run.
        environment: the variables every process starts with (by default PATH, HOME and a
            few others of this process, never all of it).
        resources: alias of a `resources: pipelines:` entry → the run of it this run
            consumes (a run triggered by a pipeline resource has that one's run here).
        resume: the timeline the same run left when it was parked at an approval (`Parked`):
            its finished stages keep their records and results and do not run again; the
            others run (the waiting one asks its gate again). `folder` must be that run's.
    """

    def __init__(self, pipeline: Pipeline, *, sources: Path, folder: Path,
                 variables: Mapping[str, str] | None = None,
                 secrets: Mapping[str, str] | None = None,
                 groups: GroupResolver | None = None, gate: Gate | None = None,
                 tasks: TaskRegistry | None = None, branch: str = "refs/heads/main",
                 commit: str = "", build_id: int = 1, reason: str = "Manual",
                 listener: Listener | None = None, cancel: threading.Event | None = None,
                 environment: Mapping[str, str] | None = None,
                 kill_grace_seconds: float = 1.0,
                 resources: Mapping[str, ResourceRun] | None = None,
                 resume: Sequence[TimelineRecord] = ()) -> None:
        self.pipeline = pipeline
        known = {r.alias.lower() for r in pipeline.resources}
        unknown = sorted(alias for alias in resources or {} if alias.lower() not in known)
        if unknown:
            raise PipelineError(pipeline.file, 0, 0, "no pipeline resource named "
                                f"{', '.join(unknown)} (it has: "
                                f"{', '.join(r.alias for r in pipeline.resources) or 'none'})")
        self.resources = dict(resources or {})
        self.resume = tuple(resume)
        self.sources = Path(sources).resolve()
        self.records = RunRecords(Path(folder), listener)
        self.queued = dict(variables or {})
        self.secrets = dict(secrets or {})
        self.groups = groups
        self.gate = gate
        self.tasks = tasks or builtin_registry()
        self.branch = branch if branch.startswith("refs/") else f"refs/heads/{branch}"
        self.commit = commit
        self.build_id = build_id
        self.reason = reason
        self.cancelled = cancel or threading.Event()
        self.base_environment = dict(environment) if environment is not None else {
            name: os.environ[name] for name in BASE_ENVIRONMENT if name in os.environ}
        self.kill_grace = kill_grace_seconds
        self.masker = Masker()
        self.work = self.records.folder / "work"
        self.agent = Agent(self.records, self.masker, self.tasks, self.sources, self.work,
                           self.base_environment, self.cancelled, self.kill_grace)

    def cancel(self) -> None:
        self.cancelled.set()

    # --- variables -----------------------------------------------------------------------

    def add_specs(self, scope: Variables, specs: Sequence[VariableSpec],
                  warn: Callable[[str], None] | None = None) -> None:
        for spec in specs:
            if spec.group:
                for name, (value, secret) in self.group(spec).items():
                    scope.set(name, value, secret=secret)
                    if secret:
                        self.masker.add(value)
                continue
            if warn is not None and spec.name.lower() in (n.lower() for n in self.queued):
                warn(f"variable '{spec.name}' set when the run was queued is overridden by "
                     "the pipeline file's value, as in Azure (to let a run set it, define it "
                     "in the pipeline's settings, not in the file)")
            existing = scope.get(spec.name)
            if existing is not None and existing.readonly:
                continue
            scope.set(spec.name, scope.expand(spec.value), readonly=spec.readonly)

    def group(self, spec: VariableSpec) -> Mapping[str, tuple[str, bool]]:
        if self.groups is None:
            raise PipelineError(spec.place.file or self.pipeline.file, spec.place.line,
                                spec.place.column,
                                f"variable group '{spec.group}' was not found (this run has "
                                "no variable groups)")
        try:
            return self.groups(spec.group)
        except LookupError:
            raise PipelineError(spec.place.file or self.pipeline.file, spec.place.line,
                                spec.place.column,
                                f"variable group '{spec.group}' was not found") from None

    def predefined(self) -> dict[str, str]:
        branch_name = self.branch.rsplit("/", 1)[-1]
        return {
            "Build.BuildId": str(self.build_id), "Build.BuildNumber": self.build_number(),
            "Build.SourceBranch": self.branch, "Build.SourceBranchName": branch_name,
            "Build.SourceVersion": self.commit, "Build.Reason": self.reason,
            "Build.DefinitionName": Path(self.pipeline.file).stem,
            "Build.SourcesDirectory": str(self.sources),
            "Build.Repository.LocalPath": str(self.sources),
            "System.DefaultWorkingDirectory": str(self.sources),
            "Build.ArtifactStagingDirectory": str(self.work / "a"),
            "Build.StagingDirectory": str(self.work / "a"),
            "Build.BinariesDirectory": str(self.work / "b"),
            "Pipeline.Workspace": str(self.work), "Agent.BuildDirectory": str(self.work),
            "Agent.TempDirectory": str(self.work / "_temp"), "Agent.OS": "Linux",
            "Agent.Name": "local", "System.ArtifactsDirectory": str(self.work / "a"),
        }

    def build_number(self) -> str:
        if not self.pipeline.name:
            return str(self.build_id)
        text = self.pipeline.name.replace("$(Rev:r)", "1").replace("$(Rev:.r)", ".1")
        text = re.sub(r"\$\(Date:([^)]*)\)", lambda m: time.strftime(
            m.group(1).replace("yyyy", "%Y").replace("MM", "%m").replace("dd", "%d")), text)
        return text.replace("$(Build.BuildId)", str(self.build_id))

    # --- the run -------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run every stage; returns how the run ended.

        Raises:
            PipelineError: a variable group the file names cannot be found.
        """
        for sub in ("a", "b", "_temp"):
            (self.work / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        for value in self.secrets.values():
            self.masker.add(value)
        root = Variables()
        for name, value in self.queued.items():
            root.set(name, value)
        for name, value in self.secrets.items():
            root.set(name, value, secret=True)
        # Known when the run is queued, so the file's variables may be made of them.
        for alias, resource in self.resources.items():
            for name, value in resource.variables(alias).items():
                root.set(name, value, readonly=True)
        notes: list[str] = []
        self.add_specs(root, self.pipeline.variables, notes.append)
        for name, value in self.predefined().items():
            root.set(name, value, readonly=True)
        self.plan()
        finished = self.restore()
        if not finished:
            for note in notes:
                self.records.log("", self.masker.mask(f"##[warning]{note}"))
        results: dict[str, str] = {}
        for stage in order(self.pipeline.stages):
            assert isinstance(stage, Stage)
            results[stage.name] = finished[stage.name] if stage.name in finished else \
                self.run_stage(stage, root, results)
        outcome = roll_up(list(results.values()), self.cancelled.is_set())
        final = {SUCCEEDED: "succeeded", WITH_ISSUES: "partiallySucceeded", SKIPPED: "succeeded",
                 FAILED: "failed", CANCELED: "canceled"}[outcome]
        if self.cancelled.is_set() and final != "failed":
            final = "canceled"
        self.records.summary(final)
        return RunResult(final, results, self.records)

    def plan(self) -> None:
        """Every stage, job and step as pending, so the whole tree shows from the start."""
        for stage in self.pipeline.stages:
            self.records.add(TimelineRecord(stage.name, "Stage", stage.name, stage.display_name))
            for job in stage.jobs:
                job_id = f"{stage.name}.{job.name}"
                self.records.add(TimelineRecord(job_id, "Job", job.name, job.display_name,
                                                parent=stage.name))
                for position, step in enumerate(job.steps, start=1):
                    if step.enabled:
                        self.records.add(TimelineRecord(
                            f"{job_id}.{position}", "Task", step.name or f"step{position}",
                            step.display_name, parent=job_id))

    def restore(self) -> dict[str, str]:
        """Put back what a parked run had finished (`resume`): each completed stage with its
        jobs, steps and approvals as they ended. Returns stage name → result."""
        by_parent: dict[str, list[TimelineRecord]] = {}
        for record in self.resume:
            by_parent.setdefault(record.parent, []).append(record)
        finished: dict[str, str] = {}

        def put_back(record: TimelineRecord) -> None:
            with self.records.lock:
                self.records.records[record.id] = record
            for child in by_parent.get(record.id, []):
                put_back(child)

        for stage in by_parent.get("", []):
            if stage.type == "Stage" and stage.state == "completed" and \
                    stage.id in self.records.records:
                put_back(stage)
                finished[stage.id] = stage.result
        if finished:
            with self.records.lock:
                self.records.save_timeline()
        return finished

    def status_functions(self, results: Mapping[str, str], depends: Sequence[str],
                         ) -> dict[str, Callable[[Sequence[str]], bool]]:
        """succeeded() … for a stage or job: over its dependencies, or the ones named."""
        canceled = self.cancelled.is_set

        def of(names: Sequence[str]) -> list[str]:
            wanted = names or depends
            return [results.get(name, results.get(name.lower(), SKIPPED)) for name in wanted]

        return {
            "succeeded": lambda n: not canceled() and all(r in GOOD for r in of(n)),
            "failed": lambda n: not canceled() and any(r == FAILED for r in of(n)),
            "succeededorfailed": lambda n: not canceled() and all(
                r in (*GOOD, FAILED) for r in of(n)),
            "always": lambda n: True,
            "canceled": lambda n: canceled(),
        }

    def decide(self, condition: Condition | None, variables: Variables,
               status: Mapping[str, Callable[[Sequence[str]], bool]]) -> tuple[bool, str]:
        chosen = condition or DEFAULT_CONDITION
        try:
            return to_bool(evaluate(chosen.node, Context({"variables": variables.plain()},
                                                         status))), ""
        except ExpressionError as error:
            return False, f"condition '{chosen.text}': {error}"

    def skip(self, record_id: str, reason: str = "") -> None:
        record = self.records.records.get(record_id)
        if record is None:
            return
        self.records.finish(record_id, SKIPPED, warnings=(reason,) if reason else ())
        for child in self.records.children(record_id):
            self.skip(child.id)

    def run_stage(self, stage: Stage, root: Variables, results: Mapping[str, str]) -> str:
        scope = root.child()
        self.add_specs(scope, stage.variables)
        for name, value in (("System.StageName", stage.name),
                            ("System.StageDisplayName", stage.display_name),
                            ("System.StageAttempt", "1")):
            scope.set(name, value, readonly=True)
        go, problem = self.decide(stage.condition, scope,
                                  self.status_functions(results, stage.depends_on))
        if problem:
            self.records.finish(stage.name, FAILED, errors=(problem,))
            for child in self.records.children(stage.name):
                self.skip(child.id)
            return FAILED
        if not go:
            self.skip(stage.name, f"condition not met: "
                                  f"{stage.condition.text if stage.condition else 'succeeded()'}")
            return SKIPPED
        self.records.start(stage.name)
        job_results: dict[str, str] = {}
        for job in order(stage.jobs):
            assert isinstance(job, Job)
            job_results[job.name] = self.run_job(stage, job, scope, job_results)
        result = roll_up(list(job_results.values()), self.cancelled.is_set())
        self.records.finish(stage.name, result)
        return result

    def run_job(self, stage: Stage, job: Job, stage_scope: Variables,
                results: Mapping[str, str]) -> str:
        job_id = f"{stage.name}.{job.name}"
        scope = stage_scope.child()
        self.add_specs(scope, job.variables)
        for name, value in (("System.JobName", job.name),
                            ("System.JobDisplayName", job.display_name),
                            ("Agent.JobName", job.display_name), ("System.JobAttempt", "1"),
                            ("Environment.Name", job.environment),
                            ("Strategy.Name", "runOnce" if job.is_deployment else "")):
            if value:
                scope.set(name, value, readonly=True)
        go, problem = self.decide(job.condition, scope,
                                  self.status_functions(results, job.depends_on))
        if problem:
            self.records.finish(job_id, FAILED, errors=(problem,))
            for child in self.records.children(job_id):
                self.skip(child.id)
            return FAILED
        if not go:
            self.skip(job_id, f"condition not met: "
                              f"{job.condition.text if job.condition else 'succeeded()'}")
            return SKIPPED
        self.records.start(job_id)
        if job.is_deployment:
            decision = self.ask_gate(stage, job, job_id)
            if not decision.approved:
                for child in self.records.children(job_id):
                    if child.type == "Task":
                        self.skip(child.id)
                result = CANCELED if decision.result == "canceled" else FAILED
                self.records.finish(job_id, result, errors=(decision.describe(job.environment),))
                return result
        minutes = job.timeout_minutes or DEFAULT_JOB_TIMEOUT_MINUTES
        state = JobState(stage, job, scope, time.monotonic() + minutes * 60)
        for position, step in enumerate(job.steps, start=1):
            if not step.enabled:
                continue
            step_id = f"{job_id}.{position}"
            if time.monotonic() > state.deadline:  # a task that is not a process ran long
                state.timed_out = True
            if state.timed_out:
                self.skip(step_id)
                continue
            status = {SUCCEEDED: "Succeeded", WITH_ISSUES: "SucceededWithIssues",
                      FAILED: "Failed"}[state.status]
            scope.set("Agent.JobStatus", "Canceled" if self.cancelled.is_set() else status,
                      readonly=True)
            self.run_step(state, step, step_id)
        errors: tuple[str, ...] = ()
        if state.timed_out:
            errors = (f"The job running on agent local ran longer than the maximum time of "
                      f"{minutes:g} minutes",)
            result = FAILED
        elif self.cancelled.is_set():
            result = CANCELED if state.status != FAILED else FAILED
        else:
            result = state.status
        if result == FAILED and job.continue_on_error and not state.timed_out:
            result = WITH_ISSUES
        self.records.finish(job_id, result, errors=errors)
        return result

    def ask_gate(self, stage: Stage, job: Job, job_id: str) -> GateDecision:
        if self.gate is None:
            return GateDecision("approved", reason="the environment has no checks")
        check_id = f"{job_id}.checkpoint"
        self.records.add(TimelineRecord(check_id, "Checkpoint", "Approval",
                                        f"Approval for environment '{job.environment}'",
                                        parent=job_id))
        self.records.start(check_id)
        self.records.log(check_id, f"Waiting for approval to deploy to environment "
                                   f"'{job.environment}'")
        decision = self.gate(GateRequest(job.environment, stage.name, job.name, self.build_id,
                                         self.cancelled))
        line = self.masker.mask(decision.describe(job.environment))
        self.records.log(check_id, line)
        result = {"approved": SUCCEEDED, "canceled": CANCELED}.get(decision.result, FAILED)
        self.records.finish(check_id, result, errors=() if decision.approved else (line,))
        return decision

    # --- steps ---------------------------------------------------------------------------

    def step_status(self, state: JobState) -> dict[str, Callable[[Sequence[str]], bool]]:
        canceled = self.cancelled.is_set

        def no_arguments(check: Callable[[], bool]) -> Callable[[Sequence[str]], bool]:
            def run(names: Sequence[str]) -> bool:
                if names:
                    raise ExpressionError("a step's status functions take no arguments")
                return check()
            return run

        return {
            "succeeded": no_arguments(lambda: not canceled() and state.status in GOOD),
            "failed": no_arguments(lambda: not canceled() and state.status == FAILED),
            "succeededorfailed": no_arguments(lambda: not canceled()),
            "always": no_arguments(lambda: True),
            "canceled": no_arguments(canceled),
        }

    def run_step(self, state: JobState, step: Step, step_id: str) -> None:
        go, problem = self.decide(step.condition, state.variables, self.step_status(state))
        if problem:
            self.records.finish(step_id, FAILED, errors=(problem,))
            state.status = FAILED
            return
        if not go:
            self.skip(step_id)
            return
        self.records.start(step_id)
        self.records.log(step_id, self.masker.mask(f"##[section]Starting: {step.display_name}"))
        attempt = 0
        while True:
            run = StepRun(self.agent, state, step, step_id)
            result, errors = run.execute()
            if result != FAILED or attempt >= step.retries or self.cancelled.is_set() \
                    or state.timed_out:
                break
            attempt += 1
            run.warning(f"Retrying {attempt} time(s) out of {step.retries}")
        self.records.log(step_id, self.masker.mask(f"##[section]Finishing: "
                                                   f"{step.display_name}"))
        if result == FAILED and step.continue_on_error:
            result = WITH_ISSUES
        if result == FAILED:
            state.status = FAILED
        elif result == WITH_ISSUES and state.status == SUCCEEDED:
            state.status = WITH_ISSUES
        self.records.finish(step_id, result, errors=errors, warnings=tuple(run.warnings))

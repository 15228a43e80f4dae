"""One step while it runs, as an agent runs it: the task's context, the script's process
(its output read line by line, masked, with its logging commands honoured), its timeout and
its cancellation.

A script is written to a file in Agent.TempDirectory and run as `bash --noprofile --norc FILE`
in the sources folder, as the agent runs CmdLine@2 and Bash@3 on Linux: without `set -e`, so a
script fails on its last command's exit code unless it asks for more."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from labtui.targets.local.azpipelines.commands import Command, parse_command
from labtui.targets.local.azpipelines.macros import Masker, Variables
from labtui.targets.local.azpipelines.model import Job, Stage, Step
from labtui.targets.local.azpipelines.records import RunRecords
from labtui.targets.local.azpipelines.tasks import TaskContext, TaskFailed, TaskRegistry

SUCCEEDED = "succeeded"
WITH_ISSUES = "succeededWithIssues"
FAILED = "failed"
CANCELED = "canceled"
SKIPPED = "skipped"
GOOD = (SUCCEEDED, WITH_ISSUES)


class StepCanceled(Exception):
    pass


class StepTimedOut(Exception):
    pass


@dataclass(frozen=True)
class Agent:
    """What every step of a run shares: where it keeps records, the masker, the tasks, the
    folders, the environment processes start with, and the run's cancel event."""

    records: RunRecords
    masker: Masker
    tasks: TaskRegistry
    sources: Path
    work: Path
    environment: Mapping[str, str]
    cancelled: threading.Event
    kill_grace: float


@dataclass
class JobState:
    """What the steps of one running job share."""

    stage: Stage
    job: Job
    variables: Variables
    deadline: float
    status: str = SUCCEEDED
    timed_out: bool = False
    path_prefix: list[str] = field(default_factory=list)


class StepRun(TaskContext):
    """One step while it runs: the task's context, its process, its logging commands."""

    def __init__(self, agent: Agent, state: JobState, step: Step, step_id: str) -> None:
        self.agent = agent
        self.state = state
        self.step = step
        self.step_id = step_id
        variables = state.variables
        self.inputs = {name: variables.expand(value) for name, value in step.inputs.items()}
        self.sources_directory = agent.sources
        self.staging_directory = agent.work / "a"
        self.temp_directory = agent.work / "_temp"
        self.working_directory = agent.sources
        self.cancelled = agent.cancelled
        self.environment = state.job.environment
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self.completed: str = ""
        self.deadline = state.deadline
        if step.timeout_minutes:
            self.deadline = min(self.deadline, time.monotonic() + step.timeout_minutes * 60)

    # TaskContext
    def log(self, line: str) -> None:
        self.agent.records.log(self.step_id, self.agent.masker.mask(line))

    def warning(self, message: str) -> None:
        masked = self.agent.masker.mask(message)
        self.warnings.append(masked)
        self.agent.records.log(self.step_id, f"##[warning]{masked}")

    def error(self, message: str) -> None:
        masked = self.agent.masker.mask(message)
        self.errors.append(masked)
        self.agent.records.log(self.step_id, f"##[error]{masked}")

    def variable(self, name: str) -> str | None:
        found = self.state.variables.get(name)
        return found.value if found is not None else None

    def set_variable(self, name: str, value: str, *, secret: bool = False) -> None:
        existing = self.state.variables.get(name)
        if existing is not None and existing.readonly:
            self.warning(f"variable '{name}' is read-only and was not changed")
            return
        if secret:
            self.agent.masker.add(value)
        self.state.variables.set(name, value, secret=secret)

    def publish_tests(self, title: str, report: Mapping[str, object]) -> None:
        self.agent.records.publish_tests({**report, "title": title, "step": self.step_id})

    def publish_coverage(self, report: Mapping[str, object]) -> None:
        self.agent.records.publish_coverage({**report, "step": self.step_id})

    def publish_artifact(self, name: str, source: Path) -> int:
        return self.agent.records.publish_artifact(name, source)

    def execute(self) -> tuple[str, tuple[str, ...]]:
        """Run the step; (result, errors)."""
        step = self.step
        if step.kind == "checkout":
            self.log(f"The sources are already in {self.sources_directory}; nothing to fetch")
            return SUCCEEDED, ()
        spec = self.agent.tasks.get(step.task)
        if spec is None:  # the loader checked it against the same registry
            self.error(f"unknown task '{step.task}'")
            return FAILED, tuple(self.errors)
        try:
            outcome = spec.handler(self)
        except TaskFailed as failure:
            self.error(str(failure))
            return FAILED, tuple(self.errors)
        except StepCanceled:
            self.error("The operation was canceled")
            return CANCELED, tuple(self.errors)
        except StepTimedOut:
            self.error("The task has timed out")
            return FAILED, tuple(self.errors)
        except OSError as error:
            self.error(f"{spec.name}: {error}")
            return FAILED, tuple(self.errors)
        result = outcome or SUCCEEDED
        if self.completed:  # ##vso[task.complete result=…] decides, as on an agent
            result = self.completed
        return result, tuple(self.errors)

    # --- the process ---------------------------------------------------------------------

    def process_environment(self, env: Mapping[str, str] | None) -> dict[str, str]:
        variables = self.state.variables
        merged = {**self.agent.environment, **variables.environment()}
        for name, value in self.step.env.items():
            merged[name] = variables.expand(value)
        if env:
            merged.update(env)
        if self.state.path_prefix:
            merged["PATH"] = os.pathsep.join([*reversed(self.state.path_prefix),
                                              merged.get("PATH", "")])
        return merged

    def run_bash(self, script: str, *, working_directory: Path, fail_on_stderr: bool,
                 env: Mapping[str, str] | None = None) -> None:
        path = self.temp_directory / f"{uuid.uuid4()}.sh"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(script)
        try:
            self.log("========================== Starting Command Output "
                     "===========================")
            self.log(f"/usr/bin/bash --noprofile --norc {path}")
            code, wrote_stderr = self.watch(
                ["bash", "--noprofile", "--norc", str(path)], working_directory,
                self.process_environment(env))
        finally:
            path.unlink(missing_ok=True)
        if code != 0:
            raise TaskFailed(f"Bash exited with code '{code}'.")
        if fail_on_stderr and wrote_stderr:
            raise TaskFailed("Bash wrote one or more lines to the standard error stream.")

    def watch(self, argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, bool]:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
        wrote_stderr = threading.Event()

        def read(stream: IO[bytes], is_stderr: bool) -> None:
            for raw in iter(stream.readline, b""):
                if is_stderr:
                    wrote_stderr.set()
                self.output(raw.decode("utf-8", "replace").rstrip("\r\n"))

        readers = [threading.Thread(target=read, args=(process.stdout, False), daemon=True),
                   threading.Thread(target=read, args=(process.stderr, True), daemon=True)]
        for reader in readers:
            reader.start()
        stopped: type[Exception] | None = None
        while True:
            try:
                process.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                if self.cancelled.is_set():
                    stopped = StepCanceled
                elif time.monotonic() > self.deadline:
                    stopped = StepTimedOut
                    if self.deadline >= self.state.deadline:
                        self.state.timed_out = True
                if stopped is not None:
                    self.stop(process)
                    break
        for reader in readers:
            reader.join()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        if stopped is not None:
            raise stopped()
        return process.returncode, wrote_stderr.is_set()

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM to the script's process group, SIGKILL after the grace period."""
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=self.agent.kill_grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            process.wait()

    def output(self, line: str) -> None:
        command = parse_command(line)
        if command is None:
            self.log(line)
            return
        self.handle(command)

    def handle(self, command: Command) -> None:
        name = command.name
        if name == "task.setvariable":
            variable = command.properties.get("variable", "")
            if not variable:
                self.warning("##vso[task.setvariable] needs 'variable='")
                return
            secret = command.flag("issecret")
            if secret:
                self.agent.masker.add(command.message)
            self.set_variable(variable, command.message, secret=secret)
            if command.flag("isoutput"):
                if self.step.name:
                    self.set_variable(f"{self.step.name}.{variable}", command.message,
                                      secret=secret)
                else:
                    self.warning(f"output variable '{variable}' needs the step to have a "
                                 "'name'")
            if command.flag("isreadonly"):
                found = self.state.variables.get(variable)
                if found is not None:
                    found.readonly = True
        elif name == "task.setsecret":
            self.agent.masker.add(command.message)
        elif name == "task.logissue":
            kind = command.properties.get("type", "").lower()
            if kind == "error":
                self.error(command.message)
            else:
                self.warning(command.message)
        elif name == "task.complete":
            wanted = command.properties.get("result", "Succeeded").lower()
            self.completed = {"succeeded": SUCCEEDED, "succeededwithissues": WITH_ISSUES,
                              "failed": FAILED}.get(wanted, SUCCEEDED)
            if command.message:
                self.log(command.message)
        elif name == "task.prependpath":
            self.state.path_prefix.append(command.message)
        else:
            self.warning(f"the logging command ##vso[{command.area}.{command.event}] is not "
                         "supported by this runner and was ignored")

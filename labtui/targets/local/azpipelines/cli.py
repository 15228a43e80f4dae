"""`python -m labtui.targets.local.azpipelines run FILE`: run a pipeline file here, printing
its timeline as it goes; exit 0 when the run succeeded (or partially succeeded), 1 when it
failed or was canceled, 2 when the file or the arguments are wrong."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TextIO

from labtui.targets.local.azpipelines.errors import PipelineError
from labtui.targets.local.azpipelines.gates import ApprovalGate, GateDecision, GateRequest
from labtui.targets.local.azpipelines.loader import load
from labtui.targets.local.azpipelines.records import Event, LogLine, TimelineRecord
from labtui.targets.local.azpipelines.runner import Runner

MARKS = {"succeeded": "✓", "succeededWithIssues": "!", "failed": "✗", "canceled": "⊘",
         "skipped": "-", "": "◐"}


def pairs(values: Sequence[str], option: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in values:
        name, sign, value = item.partition("=")
        if not sign or not name:
            raise SystemExit(f"{option} {item!r}: write it NAME=VALUE")
        found[name] = value
    return found


class Printer:
    """The live timeline: one line when a stage, job or step starts and when it ends; with
    `--log`, the log lines too."""

    def __init__(self, out: TextIO, show_log: bool) -> None:
        self.out = out
        self.show_log = show_log
        self.depth: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self.lock:
            if isinstance(event, LogLine):
                if self.show_log:
                    self.out.write(f"{'  ' * (self.depth.get(event.record, 0) + 1)}| "
                                   f"{event.text}\n")
                    self.out.flush()
                return
            self.record(event)

    def record(self, record: TimelineRecord) -> None:
        depth = self.depth.get(record.parent, -1) + 1 if record.parent else 0
        self.depth[record.id] = depth
        indent = "  " * depth
        if record.state == "inProgress":
            self.out.write(f"{indent}◐ {record.type} {record.display_name}\n")
        elif record.state == "completed":
            took = f" ({record.finished - record.started:.1f}s)" if record.result != "skipped" \
                else ""
            self.out.write(f"{indent}{MARKS.get(record.result, '?')} {record.type} "
                           f"{record.display_name}: {record.result}{took}\n")
            for error in record.errors:
                self.out.write(f"{indent}    error: {error}\n")
        self.out.flush()


def asking_gate(environments: Sequence[str], timeout: float,
                answers: dict[str, str]) -> ApprovalGate | None:
    """--approve ENV / --reject ENV decide at once; other environments named by
    --checks wait (up to --approval-timeout) for nobody, then time out."""
    if not environments and not answers:
        return None
    gate = ApprovalGate({name: timeout for name in [*environments, *answers]})
    for name, answer in answers.items():
        if answer == "approve":
            gate.approve(name, os.environ.get("USER", "local"))
        else:
            gate.reject(name, os.environ.get("USER", "local"), "rejected on the command line")
    return gate


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m labtui.targets.local.azpipelines",
                                     description="Run an Azure Pipelines YAML file locally.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a pipeline file")
    run.add_argument("file", type=Path)
    run.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                     help="a variable, as set when queueing a run")
    run.add_argument("--secret-from-env", action="append", default=[], metavar="NAME=ENVVAR",
                     help="a secret variable whose value is in the environment variable "
                          "ENVVAR (never on the command line)")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    run.add_argument("--sources", type=Path, help="the repository (default: the file's folder)")
    run.add_argument("--records", type=Path, help="where the run keeps its records "
                                                  "(default: a new temporary folder)")
    run.add_argument("--branch", default="refs/heads/main")
    run.add_argument("--checks", action="append", default=[], metavar="ENVIRONMENT",
                     help="an environment whose deployments wait for an approval")
    run.add_argument("--approve", action="append", default=[], metavar="ENVIRONMENT")
    run.add_argument("--reject", action="append", default=[], metavar="ENVIRONMENT")
    run.add_argument("--approval-timeout", type=float, default=60.0, metavar="SECONDS")
    run.add_argument("--log", action="store_true", help="print the log lines too")
    run.add_argument("--validate", action="store_true", help="only load and check the file")
    args = parser.parse_args(argv)

    try:
        secrets = {name: os.environ[variable] for name, variable in
                   pairs(args.secret_from_env, "--secret-from-env").items()}
    except KeyError as missing:
        print(f"--secret-from-env: the environment variable {missing} is not set",
              file=sys.stderr)
        return 2
    branch = args.branch if args.branch.startswith("refs/") else f"refs/heads/{args.branch}"
    try:
        pipeline = load(args.file, parameters=pairs(args.param, "--param"),
                        variables={"Build.SourceBranch": branch,
                                   "Build.SourceBranchName": branch.rsplit("/", 1)[-1]})
    except PipelineError as error:
        print(error, file=sys.stderr)
        return 2
    if args.validate:
        jobs = sum(len(stage.jobs) for stage in pipeline.stages)
        out.write(f"{args.file}: {len(pipeline.stages)} stage(s), {jobs} job(s): valid\n")
        return 0
    records = args.records or Path(tempfile.mkdtemp(prefix="azpipelines-run-"))
    answers = {**{name: "approve" for name in args.approve},
               **{name: "reject" for name in args.reject}}
    gate = asking_gate(args.checks, args.approval_timeout, answers)
    runner = Runner(pipeline, sources=args.sources or args.file.resolve().parent,
                    folder=records, variables=pairs(args.var, "--var"), secrets=secrets,
                    gate=(lambda request: announce(gate, request, out)) if gate else None,
                    branch=branch, listener=Printer(out, args.log))

    def interrupted(signum: int, frame: FrameType | None) -> None:
        runner.cancel()

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        started = time.monotonic()
        try:
            result = runner.run()
        except PipelineError as error:
            print(error, file=sys.stderr)
            return 2
    finally:
        signal.signal(signal.SIGINT, previous)
    out.write(f"Run {result.result} in {time.monotonic() - started:.1f}s; records in "
              f"{records}\n")
    return 0 if result.ok else 1


def announce(gate: ApprovalGate, request: GateRequest, out: TextIO) -> GateDecision:
    out.write(f"  waiting for approval of environment '{request.environment}'\n")
    out.flush()
    return gate(request)

"""A local runner for Azure Pipelines YAML: the subset a lab's build and release use.

It stands on its own (PyYAML only, nothing else from labtui): `load` reads and validates a
file as Azure DevOps would (an error names the file, line, column and the thing outside the
subset), `Runner` executes it on this machine as an agent would, and `RunRecords` keeps what a
run leaves: the masked log, the timeline, published tests, coverage and artifacts.

`python -m labtui.targets.local.azpipelines run azure-pipelines.yml` runs one from a shell.
"""

from labtui.targets.local.azpipelines.builtin_tasks import builtin_registry
from labtui.targets.local.azpipelines.errors import PipelineError
from labtui.targets.local.azpipelines.gates import (
    ApprovalGate,
    GateDecision,
    GateRequest,
    Parked,
)
from labtui.targets.local.azpipelines.loader import load, load_text
from labtui.targets.local.azpipelines.model import Job, Pipeline, PipelineResource, Stage, Step
from labtui.targets.local.azpipelines.records import RunRecords, TimelineRecord
from labtui.targets.local.azpipelines.runner import ResourceRun, Runner, RunResult
from labtui.targets.local.azpipelines.tasks import (
    InputSpec,
    TaskContext,
    TaskFailed,
    TaskRegistry,
    TaskSpec,
)

__all__ = [
    "ApprovalGate",
    "GateDecision",
    "GateRequest",
    "InputSpec",
    "Job",
    "Parked",
    "Pipeline",
    "PipelineError",
    "PipelineResource",
    "ResourceRun",
    "RunRecords",
    "RunResult",
    "Runner",
    "Stage",
    "Step",
    "TaskContext",
    "TaskFailed",
    "TaskRegistry",
    "TaskSpec",
    "TimelineRecord",
    "builtin_registry",
    "load",
    "load_text",
]

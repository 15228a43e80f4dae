"""The lab's "Pipelines" section: the pull request that takes the scientist's work to master,
the variable group the build pipeline reads the pipeline environment's secrets from, the build
pipeline, and the two-stage release. One module per step, named after its id
(`build-pipeline` → `build_pipeline.py`), and `common.py` for what they share.

Where a person acts (the reviewer on the pull request, the release manager on Production), the
step has approve / reject actions: headless `--approve --as NAME` / `--reject --as NAME
--comment TEXT`, in the app on the step's page.
"""

from __future__ import annotations

from labtui_steps.pipelines.build_pipeline import BuildPipelineStep
from labtui_steps.pipelines.pull_request import PullRequestStep
from labtui_steps.pipelines.release_pipeline import ReleasePipelineStep
from labtui_steps.pipelines.variable_group import VariableGroupStep

__all__ = ["BuildPipelineStep", "PullRequestStep", "ReleasePipelineStep", "VariableGroupStep"]
